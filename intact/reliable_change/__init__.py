"""Reliable change: did a participant's score change beyond measurement noise and practice?

- `formula.py`: the practice-adjusted reliable change index (Chelune et al. 1993 on Jacobson &
  Truax 1991), its critical z and classification, and one-pass sample statistics (pure).
- `method.py`: which r, SD1 and practice each score uses at each follow-up (researcher values,
  then the reference file, then estimates from the study's own participants), each change's
  RCI and classification, and the sentences that say where the values came from (pure).
- `reference.py`: the reference file that ships with the app (`reference.csv`) and the one
  reader of typed values, for the file and the dashboard form alike.
- `sources.py`: this app's settings, reference file and researchers' values (in the database,
  audited), assembled into the method in force.

The change table (intact/summaries.py) and the dashboard (intact/admin/reliable_change.py) read
them; nothing here writes a participant's data.
"""

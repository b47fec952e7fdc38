"""intact/downloads.py: the one way a file is handed over (headers, streaming, audit entry)."""

import pytest

from intact import audit, downloads


@pytest.mark.parametrize(
    ("file_name", "header"),
    [
        ("studies.csv", "attachment; filename=studies.csv"),
        ("audit log.csv", 'attachment; filename="audit log.csv"'),
        (
            "intact-data-Müller1.zip",
            "attachment; filename=intact-data-Muller1.zip; "
            "filename*=UTF-8''intact-data-M%C3%BCller1.zip",
        ),
        (
            "intact-data-张伟1.zip",
            "attachment; filename=intact-data-1.zip; "
            "filename*=UTF-8''intact-data-%E5%BC%A0%E4%BC%9F1.zip",
        ),
    ],
)
def test_the_file_name_reaches_every_browser(file_name, header):
    assert downloads.content_disposition(file_name) == header


def test_an_attachment_streams_and_is_recorded_when_its_last_byte_has_gone(app):
    download = downloads.Download("a.csv", "text/csv", iter([b"x,y\n", b"1,2\n"]), {"n": 1})
    with app.test_request_context(environ_base={"REMOTE_ADDR": "192.0.2.9"}):
        response = downloads.attachment(download)
        assert response.is_streamed
        assert response.headers["Cache-Control"] == "no-store"
        assert response.mimetype == "text/csv"
        with app.app_context():
            assert audit.find_entries(action=audit.DOWNLOAD).total == 0
        assert b"".join(response.response) == b"x,y\n1,2\n"
        (entry,) = audit.find_entries(action=audit.DOWNLOAD).items
    assert entry["count"] == 8
    assert entry["client"] == "192.0.2.9"
    assert entry["details"] == {"file": "a.csv", "completed": True, "n": 1}


def test_a_file_saved_on_the_server_is_recorded_or_removed(app, tmp_path):
    def broken():
        yield b"PK"
        raise RuntimeError("disk full")

    with app.app_context():
        target = tmp_path / "out.zip"
        assert downloads.save(downloads.Download("x.zip", "application/zip", [b"PK", b"!"]), target)
        assert target.read_bytes() == b"PK!"
        with pytest.raises(RuntimeError):
            downloads.save(downloads.Download("x.zip", "application/zip", broken()), target)
        assert not target.exists()
        (entry,) = audit.find_entries(action=audit.DOWNLOAD).items
    assert (entry["count"], entry["client"]) == (3, audit.COMMAND_LINE)
    assert entry["details"] == {"file": str(target), "completed": True}

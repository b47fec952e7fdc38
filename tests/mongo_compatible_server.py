"""A MongoDB-compatible wire-protocol server for the tests: mongoeco, in its own Python 3.13 venv.

    .venv-mongo/bin/python tests/mongo_compatible_server.py [--port N] [--sqlite FILE]

Not MongoDB: mongoeco (`mongoeco[wire]`, requirements-mongo.txt) answers MongoDB's wire protocol
from an in-memory engine, or from an SQLite file that survives a restart (`--sqlite`). It listens
on 127.0.0.1 (port 0: a free one), prints its connection string on one line once it accepts
connections, and serves until SIGTERM or SIGINT. `tests/conftest.py` starts and stops it by pid.
This file runs under Python 3.13 with mongoeco, never under the app's Python: pytest does not
collect it (not named test_*).
"""

import argparse
import asyncio
import signal

from mongoeco.engines import MemoryEngine, SQLiteEngine
from mongoeco.wire.proxy import AsyncMongoEcoProxyServer


async def serve(port: int, sqlite_file: str | None) -> None:
    engine = SQLiteEngine(sqlite_file) if sqlite_file else MemoryEngine()
    server = AsyncMongoEcoProxyServer(engine=engine, host="127.0.0.1", port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    address = await server.start()
    print(address.uri, flush=True)
    try:
        await stop.wait()
    finally:
        await server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--sqlite", help="keep the data in this SQLite file (default: memory)")
    arguments = parser.parse_args()
    asyncio.run(serve(arguments.port, arguments.sqlite))


if __name__ == "__main__":
    main()

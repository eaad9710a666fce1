"""Generate the Python gRPC stubs of proto/nightowl/v1/*.proto into service/rpc/.

Run after editing a .proto file: ``python proto/generate.py`` (needs grpcio-tools, in the dev
extra). The generated files are committed, so installing nightowl needs no code generation;
never edit them by hand.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTOS = ROOT / "proto"
OUT = ROOT / "service" / "rpc"


def main() -> int:
    from grpc_tools import protoc

    folder = PROTOS / "nightowl" / "v1"
    sources = sorted(str(p.relative_to(PROTOS)) for p in folder.glob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    code = protoc.main(["protoc", f"-I{PROTOS}", f"-I{include}", f"--python_out={OUT}",
                        f"--pyi_out={OUT}", f"--grpc_python_out={OUT}", *sources])
    if code:
        return code
    for generated in (OUT / "nightowl" / "v1").glob("*_pb2*.py*"):
        # the stubs live in nightowl.service.rpc, not in a top-level nightowl.v1 package
        text = re.sub(r"^from nightowl\.v1 import", "from . import", generated.read_text(),
                      flags=re.M)
        (OUT / generated.name).write_text(text)
        generated.unlink()
    for folder in (OUT / "nightowl" / "v1", OUT / "nightowl"):
        folder.rmdir()
    print(f"generated {', '.join(sources)} into {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

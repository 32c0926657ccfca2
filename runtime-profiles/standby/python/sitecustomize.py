# Standby bootstrap for CPython. The executor starts `python3 ... <scratch>/main.py` ahead of time
# with this folder on PYTHONPATH, so the interpreter imports this module while initialising, before
# it opens the (not yet written) main file. Here it waits for a task; when the executor hands one
# over, it applies the task's arguments and environment, removes every trace of itself and returns:
# the interpreter then runs main.py exactly as a freshly started one would (__main__, __file__,
# sys.argv, sys.path[0], tracebacks). Without EXECUTOR_STANDBY_FD it does nothing.
#
# Handoff on that descriptor (a socket): this side writes b"R" once ready; the executor then
# writes `<n>\0<arg 1>\0...<arg n>\0<NAME=value>\0....end\0` and shuts down its end.
def _standby():
    import os
    import sys

    fd = os.environ.get("EXECUTOR_STANDBY_FD")
    if fd is None:
        return
    fd = int(fd)
    os.set_blocking(fd, True)
    os.write(fd, b"R")
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    if not chunks:
        # Retired without a task (shutdown, or a task this standby does not fit).
        os._exit(0)
    fields = b"".join(chunks).split(b"\0")
    # A complete handoff ends with b".end" (then the empty string after the last NUL); anything
    # else was cut short, and the snippet must not run with half its arguments or environment.
    if fields[-2:] != [b".end", b""]:
        os._exit(70)
    count = int(fields[0])
    args = fields[1 : 1 + count]
    env = fields[1 + count : -2]

    os.environ.clear()
    for pair in env:
        name, _, value = pair.partition(b"=")
        os.environb[name] = value
    if "TZ" in os.environ:
        import time

        time.tzset()
    decoded = [os.fsdecode(a) for a in args]
    sys.argv[1:] = decoded
    if hasattr(sys, "orig_argv"):  # Python 3.10+
        sys.orig_argv.extend(decoded)

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p != here]
    sys.path_importer_cache.pop(here, None)
    # A fresh interpreter imports the image's own sitecustomize, if there is one, at this point.
    del sys.modules["sitecustomize"]
    try:
        import sitecustomize  # noqa: F401
    except ImportError:
        pass


_standby()
del _standby

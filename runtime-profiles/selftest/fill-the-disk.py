import os
for where in (".", "/tmp"):
    written = 0
    try:
        with open(os.path.join(where, "fill"), "wb") as f:
            while written < 4 * 1024 ** 3:
                f.write(b"\0" * (1 << 20)); f.flush(); written += 1 << 20
        print(where, "not stopped", written)
    except OSError as e:
        print(where, "stopped", written, e.strerror)

# 15 MiB each: under the selftest's file size limit, which bounds a memfd too.
import os, time
fds = []
for i in range(50):
    fd = os.memfd_create(f"m{i}")
    for _ in range(15):
        os.write(fd, b"x" * (1 << 20))
    fds.append(fd)
print("held 750 MiB", flush=True)
time.sleep(5)

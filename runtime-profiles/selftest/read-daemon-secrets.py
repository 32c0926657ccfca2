import os, re
parent = os.getppid()
for path in (f"/proc/{parent}/environ", f"/proc/{parent}/mem", SECRET_PATH):
    try:
        with open(path, "rb") as f: data = f.read(1 << 16)
        names = [kv.split(b"=", 1)[0].decode(errors="replace") for kv in data.split(b"\0") if b"=" in kv]
        creds = [kv.split(b"=", 1)[0].decode(errors="replace") for kv in data.split(b"\0") if re.search(rb"(PASS|TOKEN|SECRET|KEY|CREDENTIAL)[^=]*=|://[^/@\s]*:[^/@\s]*@", kv, re.I)]
        print("READ", path, "credentials:", ",".join(creds) or "none")
    except OSError as e:
        print("denied", path, e.errno)
print("fds", sorted(int(fd) for fd in os.listdir("/proc/self/fd")))
print("env", sorted(os.environ))

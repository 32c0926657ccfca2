import os
status = open("/proc/self/status").read()
fields = dict(l.split(":\t", 1) for l in status.splitlines() if ":\t" in l)
print("uid", os.getuid(), os.geteuid(), "caps", fields.get("CapEff", "").strip(), "nnp", fields.get("NoNewPrivs", "n/a").strip(), "groups", os.getgroups())

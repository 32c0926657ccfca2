# include find_writable_dirs.py
pid = str(os.getpid()).encode()
for d in sorted(found) + [home]:
    b = os.fsencode(d)
    try:
        with open(os.path.join(b, b".planted-\xff" + pid), "wb") as f: f.write(b"planted")
        os.mkdir(os.path.join(b, b".planted-\xfe-dir-" + pid))
        with open(os.path.join(b, b".planted-\xfe-dir-" + pid, b"\xfd"), "wb") as f: f.write(b"planted")
        print("writable", d)
    except OSError:
        pass
with open(b"out/\xff-artifact", "wb") as f: f.write(b"data")

# build(where, root, depth, long): `depth` nested folders under where/root (every other one named
# with 255 bytes when `long`), a file with a 255-byte name at the bottom, and chmod 000 on root
# and on some folders of the chain.
import os
def build(where, root, depth, long):
    os.chdir(where); os.mkdir(root); os.chdir(root)
    names = []
    for i in range(depth):
        n = "L" * 255 if long and i % 2 else "d"
        os.mkdir(n); os.chdir(n); names.append(n)
    open("x" * 255, "w").write("planted")
    for i, n in enumerate(reversed(names)):
        os.chdir("..")
        if i % 997 == 3: os.chmod(n, 0)
    os.chdir(where); os.chmod(root, 0)

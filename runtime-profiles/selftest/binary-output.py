import sys
sys.stdout.buffer.write(bytes(range(256)) * 64)
sys.stderr.buffer.write(b"\xff\xfe\x00bad utf8")

import socket
try:
    s = socket.create_connection(("127.0.0.1", LISTENER_PORT), timeout=2)
    print("CONNECTED")
except OSError as e:
    print("blocked", e.errno)

import subprocess
while True:
    subprocess.run(["bash", "-c", "for i in $(seq 200); do :; done"])

"""Traffic for the conntrack lab. `serve` (in np-ct-be): TCP 8080/9090/9091 and UDP 5353 on every
address, IPv4 and IPv6; answers each message with the address it was received on. `client` (in
np-ct-cli): opens connections from fixed source ports and keeps them open until killed."""
import socket, sys, threading, time

def serve():
    def tcp(fam, addr, port):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((addr, port)); s.listen(64)
        while True:
            c, _ = s.accept()
            def handle(c=c):
                while True:
                    d = c.recv(100)
                    if not d:
                        return
                    c.sendall(('%s %s\n' % (c.getsockname()[0], c.getsockname()[1])).encode())
            threading.Thread(target=handle, daemon=True).start()
    def udp(fam, addr, port):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind((addr, port))
        while True:
            d, peer = s.recvfrom(100)
            s.sendto(b'answer\n', peer)
    for fam, a in ((socket.AF_INET, '0.0.0.0'), (socket.AF_INET6, '::')):
        for p in (8080, 9090, 9091):
            threading.Thread(target=tcp, args=(fam, a, p), daemon=True).start()
        threading.Thread(target=udp, args=(fam, a, 5353), daemon=True).start()
    while True:
        time.sleep(3600)

def client():
    keep = []
    def tcp(fam, src, sport, dst, dport):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.bind((src, sport)); s.settimeout(5); s.connect((dst, dport))
        s.sendall(b'hello\n')
        print('tcp %s:%d -> %s:%d answered by %s' % (src, sport, dst, dport, s.recv(100).decode().strip()), flush=True)
        keep.append(s)
    for sport in range(40001, 40009):
        tcp(socket.AF_INET, '192.0.2.2', sport, '192.0.2.100', 80)
    tcp(socket.AF_INET, '192.0.2.2', 40090, '198.51.100.2', 9090)
    tcp(socket.AF_INET, '192.0.2.2', 40091, '198.51.100.3', 9091)
    tcp(socket.AF_INET6, '2001:db8:1::2', 40080, '2001:db8:100::10', 80)
    tcp(socket.AF_INET6, '2001:db8:1::2', 40099, '2001:db8:2::3', 9090)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(('192.0.2.2', 40053)); u.settimeout(5)
    u.sendto(b'query\n', ('192.0.2.100', 53))
    print('udp 192.0.2.2:40053 -> 192.0.2.100:53 answered %r' % u.recv(100), flush=True)
    keep.append(u)
    # a datagram nobody answers: an [UNREPLIED] entry
    n = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n.bind(('192.0.2.2', 40054)); n.sendto(b'nobody\n', ('198.51.100.3', 5999))
    keep.append(n)
    print('ready', flush=True)
    while True:
        time.sleep(3600)

{'serve': serve, 'client': client}[sys.argv[1]]()

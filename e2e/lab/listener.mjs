// A non-iSCSI TCP listener for the lab: `http` answers like a web server, `silent` accepts and
// never says anything. Usage: node listener.mjs <http|silent> <host> <port>
import net from 'node:net';

const [mode, host, port] = process.argv.slice(2);
const server = net.createServer((sock) => {
  sock.on('error', () => undefined);
  if (mode === 'http') {
    sock.once('data', () => {
      sock.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
  }
  // silent: hold the connection open until the peer goes.
});
server.listen(Number(port), host, () => process.stdout.write(`listening ${mode} ${host}:${port}\n`));

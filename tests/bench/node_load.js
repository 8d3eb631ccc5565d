// The Node.js workloads of `make bench` (issue #10): a busy connection of a
// Node.js service. node node_load.js redis|pg PORT SECONDS
//   redis: ioredis with auto-pipelining, 16 concurrent workers on one
//          connection, each a SET of a 1 KiB value then a GET of it;
//   pg:    node-postgres, a Pool of 16, 16 concurrent workers, each the
//          parameterised lookup of a 1 KiB row.
// Prints "requests req_per_s p99_us errors" (requests: commands or queries).
const mods = process.env.NODE_MODULES || __dirname + '/../../build/node/node_modules';
const [kind, port, seconds] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const value = 'v'.repeat(1024);

(async () => {
  let op, close;
  if (kind === 'redis') {
    const Redis = require(mods + '/ioredis');
    const r = new Redis({ host: '127.0.0.1', port, enableAutoPipelining: true });
    op = async (i) => {
      const k = 'product:' + (i % 1000);
      await r.set(k, value);
      await r.get(k);
      return 2;
    };
    close = () => r.quit();
  } else {
    const { Pool } = require(mods + '/pg');
    const pool = new Pool({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', max: 16 });
    op = async (i) => {
      await pool.query('SELECT * FROM products WHERE id = $1', [1 + (i % 64)]);
      return 1;
    };
    close = () => pool.end();
  }
  const lat = [];
  let requests = 0, errors = 0, next = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(seconds * 1e9));
  const worker = async () => {
    while (process.hrtime.bigint() < end) {
      const s = process.hrtime.bigint();
      try {
        const n = await op(next++); // not `requests += await ...`: that reads requests before awaiting
        requests += n;
      } catch (e) {
        errors++;
      }
      lat.push(Number(process.hrtime.bigint() - s) / 1000);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await close();
  lat.sort((a, b) => a - b);
  const p99 = lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))] : 0;
  console.log(requests, Math.round(requests / secs), p99.toFixed(1), errors);
})().catch((e) => { console.error(e); process.exit(1); });

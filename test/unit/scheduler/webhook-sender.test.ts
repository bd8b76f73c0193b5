import assert from 'node:assert/strict';
import type dns from 'node:dns';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HttpWebhookSender } from '../../../src/scheduler/webhook-sender.ts';

type Resolved = { address: string; family: number };

/** A resolver that knows only `names` (nothing reaches real DNS) and records what it was asked. */
function fakeResolver(names: Record<string, Resolved[]>, asked: string[]): typeof dns.lookup {
  const lookup = (hostname: string, options: unknown, callback: (error: NodeJS.ErrnoException | null, addresses: Resolved[]) => void) => {
    asked.push(hostname);
    const found = names[hostname];
    if (found === undefined) callback(Object.assign(new Error(`${hostname} not found`), { code: 'ENOTFOUND' }), []);
    else callback(null, found);
  };
  return lookup as unknown as typeof dns.lookup;
}

describe('HttpWebhookSender: the receiver address is checked at every delivery', () => {
  let server: http.Server;
  let port: number;
  const received: { host: string | undefined; body: string }[] = [];
  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ host: req.headers.host, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('connects to the address its own lookup checked (the name is never resolved twice)', async () => {
    const asked: string[] = [];
    const sender = new HttpWebhookSender(fakeResolver({ 'receiver.test': [{ address: '127.0.0.1', family: 4 }] }, asked));
    received.length = 0;
    const answer = await sender.post(`http://receiver.test:${port}/hook`, { 'content-type': 'application/json' }, '{"a":1}', 2000);
    assert.equal(answer.status, 204);
    assert.deepEqual(asked, ['receiver.test']);
    assert.deepEqual(received, [{ host: `receiver.test:${port}`, body: '{"a":1}' }]);
  });

  for (const [name, addresses] of [
    ['a name that now resolves to the cloud metadata address', [{ address: '169.254.169.254', family: 4 }]],
    ['a name with one link-local address among good ones', [{ address: '127.0.0.1', family: 4 }, { address: 'fe80::1', family: 6 }]],
    ['a name that resolves to the unspecified address', [{ address: '0.0.0.0', family: 4 }]],
    ['a name that resolves to an IPv4-mapped metadata address', [{ address: '::ffff:169.254.169.254', family: 6 }]],
  ] as const) {
    it(`refuses ${name}, before any connection`, async () => {
      const asked: string[] = [];
      const sender = new HttpWebhookSender(fakeResolver({ 'rebound.test': [...addresses] }, asked));
      received.length = 0;
      await assert.rejects(sender.post(`http://rebound.test:${port}/hook`, {}, '{}', 2000), { code: 'ERR_WEBHOOK_ADDRESS_FORBIDDEN' });
      assert.deepEqual(asked, ['rebound.test']);
      assert.deepEqual(received, []);
    });
  }

  for (const url of ['http://169.254.169.254/latest/meta-data', 'http://[::ffff:169.254.169.254]/', 'http://[fe80::1]:8080/', 'http://0.0.0.0:8080/']) {
    it(`refuses the literal address of ${url} without a lookup`, async () => {
      const asked: string[] = [];
      const sender = new HttpWebhookSender(fakeResolver({}, asked));
      await assert.rejects(sender.post(url, {}, '{}', 2000), { code: 'ERR_WEBHOOK_ADDRESS_FORBIDDEN' });
      assert.deepEqual(asked, []);
    });
  }

  it("passes a name that does not resolve on as the resolver's own error", async () => {
    const sender = new HttpWebhookSender(fakeResolver({}, []));
    await assert.rejects(sender.post(`http://nowhere.test:${port}/`, {}, '{}', 2000), { code: 'ENOTFOUND' });
  });
});

// Drives mod_pvlaunch's HTML admin page (SetHandler pvlaunch-admin) in headless
// Chromium (Debian's, through playwright-core: no browser download), as an
// administrator that Apache authenticates with Basic auth:
//   1. loads the page and reads the sessions and queue tables;
//   2. clicks Top on the last waiting launch and checks it became first;
//      then prints a checkpoint line and waits for a line on stdin (the
//      caller checks the REST listing meanwhile; EOF just continues);
//   3. opens the first running session's log tail and comes back;
//   4. clicks Stop on that session, checks it is gone, and reloads until the
//      first waiting launch shows up among the sessions.
// Output: JSON lines on stdout; checkpoints have a "checkpoint" key, the last
// line is the report. Exit status 0 when every step passed, 1 when one failed
// (the report says which), 2 on bad usage.
//
// Usage: node web/e2e/admin.mjs --url http://127.0.0.1:PORT/pvadmin
//          --user NAME --password PW [--shot FILE.png] [--log-shot FILE.png]
//          [--chromium /usr/bin/chromium] [--timeout SECONDS]
import process from 'node:process';
import readline from 'node:readline';
import { launchChromium, parseFlags } from './common.mjs';

function parseArgs(argv) {
  const opts = parseFlags(
    argv,
    {
      '--url': 'url',
      '--user': 'user',
      '--password': 'password',
      '--shot': 'shot',
      '--log-shot': 'logShot',
    },
    { url: null, user: null, password: null, shot: null, logShot: null },
  );
  if (!opts.url || !opts.user || opts.password === null) {
    throw new Error('--url, --user and --password are required');
  }
  return opts;
}

// Lines from stdin, one promise at a time; null once stdin is closed.
function stdinLines() {
  const rl = readline.createInterface({ input: process.stdin });
  const lines = [];
  const waiters = [];
  let closed = false;
  rl.on('line', (line) => {
    if (waiters.length) waiters.shift()(line);
    else lines.push(line);
  });
  rl.on('close', () => {
    closed = true;
    while (waiters.length) waiters.shift()(null);
  });
  return {
    next() {
      if (lines.length) return Promise.resolve(lines.shift());
      if (closed) return Promise.resolve(null);
      return new Promise((resolve) => waiters.push(resolve));
    },
    close() {
      rl.close();
    },
  };
}

// What the page shows, read as a user would (cell texts).
async function readTables(page) {
  return page.evaluate(() => {
    const text = (el) => (el ? el.textContent.trim() : null);
    const rows = (sel) => Array.from(document.querySelectorAll(`${sel} tbody tr[data-id]`));
    return {
      sessions: rows('#sessions').map((tr) => ({
        id: tr.dataset.id,
        idText: text(tr.cells[0]),
        state: text(tr.cells[1]),
        application: text(tr.cells[2]),
        owner: text(tr.cells[3]),
        age: text(tr.cells[4]),
        hostPort: text(tr.cells[5]),
        logHref: tr.querySelector('a.log') ? tr.querySelector('a.log').getAttribute('href') : null,
        buttons: Array.from(tr.querySelectorAll('button')).map((b) => text(b)),
      })),
      queue: rows('#queue').map((tr) => ({
        id: tr.dataset.id,
        position: text(tr.cells[0]),
        idText: text(tr.cells[1]),
        application: text(tr.cells[2]),
        owner: text(tr.cells[3]),
        age: text(tr.cells[4]),
        buttons: Array.from(tr.querySelectorAll('button')).map((b) => ({
          text: text(b),
          disabled: b.disabled,
        })),
      })),
      message: text(document.querySelector('#message')),
      user: text(document.querySelector('#user')),
      title: document.title,
    };
  });
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err.message}\nusage: node admin.mjs --url URL --user NAME ` +
      '--password PW [--shot PNG] [--log-shot PNG] [--chromium PATH] [--timeout SECONDS]\n');
    return 2;
  }
  const timeoutMs = opts.timeout * 1000;
  const input = stdinLines();
  const report = {
    ok: false,
    step: 'launch chromium',
    error: null,
    chromiumVersion: null,
    initial: null,
    afterTop: null,
    log: null,
    afterStop: null,
    afterStart: null,
    navigations: [],
    consoleErrors: [],
    pageErrors: [],
    millis: {},
  };
  const t0 = Date.now();
  const mark = (name) => {
    report.millis[name] = Date.now() - t0;
  };

  let browser = null;
  let page = null;
  try {
    browser = await launchChromium(opts.chromium, timeoutMs);
    report.chromiumVersion = browser.version();
    mark('chromium');
    const context = await browser.newContext({
      viewport: { width: 1100, height: 640 },
      httpCredentials: { username: opts.user, password: opts.password },
    });
    page = await context.newPage();
    page.setDefaultTimeout(timeoutMs);
    // CSP violations show up as console errors too.
    page.on('console', (msg) => {
      if (msg.type() === 'error') report.consoleErrors.push(msg.text());
    });
    page.on('pageerror', (err) => report.pageErrors.push(String(err)));
    page.on('response', (resp) => {
      const req = resp.request();
      if (req.isNavigationRequest()) {
        const u = new URL(req.url());
        report.navigations.push({ method: req.method(), path: u.pathname + u.search,
          status: resp.status() });
      }
    });

    report.step = 'open the page';
    const first = await page.goto(opts.url, { waitUntil: 'load' });
    check(first.status() === 200, `the page answered ${first.status()}`);
    report.initial = await readTables(page);
    mark('page');
    const { sessions, queue } = report.initial;
    check(sessions.length >= 1, 'no running session is listed');
    check(queue.length >= 2, `${queue.length} waiting launches are listed, expected 2 or more`);
    check(queue.every((q, i) => q.position === String(i + 1)), 'queue positions are not 1, 2, ...');
    const firstQueue = queue[0].buttons.map((b) => `${b.text}${b.disabled ? '-' : '+'}`);
    check(firstQueue.join(' ') === 'Top- Up- Down+ Bottom+',
      `the first waiting launch's buttons are ${firstQueue.join(' ')}`);

    report.step = 'move the last waiting launch to the top';
    const last = queue[queue.length - 1];
    await page.locator(`#queue tr[data-id="${last.id}"]`).getByRole('button', { name: 'Top' })
      .click();
    await page.waitForURL(/[?&]done=moved/);
    report.afterTop = await readTables(page);
    mark('moved');
    const order = report.afterTop.queue.map((q) => q.id);
    check(order[0] === last.id, `after Top the queue is ${order.join(', ')}`);
    check(order.length === queue.length, 'the queue changed length');
    check(JSON.stringify(order.slice(1)) ===
      JSON.stringify(queue.slice(0, -1).map((q) => q.id)), 'the others did not keep their order');
    if (opts.shot) await page.screenshot({ path: opts.shot, fullPage: true });
    process.stdout.write(`${JSON.stringify({ checkpoint: 'after-top', queue: order })}\n`);
    const reply = await input.next();
    if (reply !== null && reply.trim() !== 'continue') {
      throw new Error(`the caller said: ${reply}`);
    }

    report.step = 'open the log tail';
    const running = report.afterTop.sessions[0];
    await page.locator(`#sessions tr[data-id="${running.id}"] a.log`).click();
    await page.locator('#log').waitFor();
    report.log = { url: page.url(), title: await page.title(),
      text: await page.locator('#log').textContent() };
    if (opts.logShot) await page.screenshot({ path: opts.logShot, fullPage: true });
    await page.locator('#back').click();
    await page.locator('#sessions').waitFor();
    mark('log');

    report.step = 'stop the running session';
    const next = order[0];
    await page.locator(`#sessions tr[data-id="${running.id}"]`)
      .getByRole('button', { name: 'Stop' }).click();
    await page.waitForURL(/[?&]done=stopped/);
    report.afterStop = await readTables(page);
    mark('stopped');
    check(!report.afterStop.sessions.some((s) => s.id === running.id),
      'the stopped session is still listed');

    report.step = 'see the first waiting launch start';
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = await readTables(page);
      const started = now.sessions.find((s) => s.id === next);
      if (started && /:\d+$/.test(started.hostPort || '')) {
        report.afterStart = now;
        break;
      }
      if (Date.now() > deadline) {
        report.afterStart = now;
        throw new Error(`launch ${next} did not start`);
      }
      await page.waitForTimeout(200);
      await page.reload({ waitUntil: 'load' });
    }
    check(!report.afterStart.queue.some((q) => q.id === next), 'the started launch still waits');
    mark('started');
    report.step = 'done';
    report.ok = true;
  } catch (err) {
    report.error = String(err && err.message ? err.message : err);
  } finally {
    input.close();
    if (browser) await browser.close().catch(() => {});
  }
  mark('total');
  process.stdout.write(`${JSON.stringify(report)}\n`);
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  },
);

// Drives the demo page in headless Chromium (Debian's, through playwright-core:
// no browser download): Start, wait for the RPC result, Stop, wait for
// "stopped". The page must have shown the launch's progress events (at least
// "running" and the session "ready"). Prints one JSON report on stdout; exit
// status 0 when every step passed, 1 when one failed (the report says which),
// 2 on bad usage.
//
// With --free-slot PATH (a launcher with a queue whose only slot is taken by
// the session at PATH), the page's launch must first show "waiting" in the
// queue; then the script DELETEs PATH, and the launch starts.
//
// Usage: node web/e2e/demo.mjs --url http://127.0.0.1:PORT/
//          [--running-shot FILE.png] [--stopped-shot FILE.png]
//          [--free-slot /paraview/ID] [--waiting-shot FILE.png]
//          [--chromium /usr/bin/chromium] [--timeout SECONDS]
import process from 'node:process';
import { launchChromium, parseFlags } from './common.mjs';

function parseArgs(argv) {
  const opts = parseFlags(
    argv,
    {
      '--url': 'url',
      '--running-shot': 'runningShot',
      '--stopped-shot': 'stoppedShot',
      '--free-slot': 'freeSlot',
      '--waiting-shot': 'waitingShot',
    },
    { url: null, runningShot: null, stoppedShot: null, freeSlot: null, waitingShot: null },
  );
  if (!opts.url) throw new Error('--url is required');
  return opts;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err.message}\nusage: node demo.mjs --url URL [--running-shot PNG] ` +
      '[--stopped-shot PNG] [--free-slot PATH] [--waiting-shot PNG] [--chromium PATH] ' +
      '[--timeout SECONDS]\n');
    return 2;
  }
  const timeoutMs = opts.timeout * 1000;
  const report = {
    ok: false,
    step: 'launch chromium',
    error: null,
    chromiumVersion: null,
    sessionId: null,
    sessionURL: null,
    rpcResult: null,
    stateAfterStart: null,
    stateAfterStop: null,
    launchState: null,
    freeSlotStatus: null,
    progressWhileWaiting: [],
    progressAtRunning: [],
    progress: [],
    pageLog: [],
    launcherRequests: [],
    websockets: [],
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

    page = await browser.newPage({ viewport: { width: 960, height: 720 } });
    page.setDefaultTimeout(timeoutMs);
    page.on('console', (msg) => {
      if (msg.type() === 'error') report.consoleErrors.push(msg.text());
    });
    page.on('pageerror', (err) => report.pageErrors.push(String(err)));
    page.on('response', (resp) => {
      const req = resp.request();
      if (new URL(req.url()).pathname.startsWith('/paraview')) {
        report.launcherRequests.push({
          method: req.method(),
          path: new URL(req.url()).pathname,
          contentType: req.headers()['content-type'] || null,
          status: resp.status(),
        });
      }
    });
    page.on('websocket', (ws) => {
      const entry = { url: ws.url(), binarySent: 0, binaryReceived: 0, textFrames: 0, closed: false };
      report.websockets.push(entry);
      ws.on('framesent', (frame) => {
        if (typeof frame.payload === 'string') entry.textFrames += 1;
        else entry.binarySent += 1;
      });
      ws.on('framereceived', (frame) => {
        if (typeof frame.payload === 'string') entry.textFrames += 1;
        else entry.binaryReceived += 1;
      });
      ws.on('close', () => {
        entry.closed = true;
      });
    });

    const state = () => page.locator('#state').getAttribute('data-state');
    const pageLog = () => page.locator('#log li').allInnerTexts();
    // The progress list: one entry per server-sent event the page showed.
    const progress = () => page.locator('#progress li').evaluateAll((items) => items.map((li) => {
      const entry = { event: li.dataset.event, state: li.dataset.state };
      if (li.dataset.queuePosition !== undefined) entry.queuePosition = Number(li.dataset.queuePosition);
      if (li.dataset.sessionState !== undefined) entry.sessionState = li.dataset.sessionState;
      const line = li.querySelector('.ready-line');
      if (line) entry.line = line.textContent;
      entry.text = li.innerText;
      return entry;
    }));

    report.step = 'open the page';
    await page.goto(opts.url, { waitUntil: 'load' });
    await page.locator('#start:enabled').waitFor();
    mark('page');

    report.step = 'start a session and call demo.info';
    await page.locator('#start').click();
    if (opts.freeSlot) {
      report.step = 'wait in the queue';
      await page.waitForSelector('#progress li[data-state="waiting"], #state[data-state="error"]');
      report.progressWhileWaiting = await progress();
      if (opts.waitingShot) {
        await page.screenshot({ path: opts.waitingShot, fullPage: true });
      }
      if ((await state()) === 'error') throw new Error('the page failed while queued');
      report.step = 'free the queue\'s slot';
      const resp = await fetch(new URL(opts.freeSlot, opts.url), { method: 'DELETE' });
      report.freeSlotStatus = resp.status;
      await resp.arrayBuffer();
      if (!resp.ok) throw new Error(`DELETE ${opts.freeSlot} answered ${resp.status}`);
      report.step = 'start a session and call demo.info';
    }
    await page.waitForSelector('#state[data-state="running"], #state[data-state="error"]');
    report.stateAfterStart = await state();
    report.launchState = await page.locator('#launch-state').innerText();
    report.progressAtRunning = await progress();
    report.sessionId = await page.locator('#session-id').innerText();
    report.sessionURL = await page.locator('#session-url').innerText();
    const rpcText = await page.locator('#rpc-result').innerText();
    report.rpcResult = rpcText ? JSON.parse(rpcText) : null;
    mark('running');
    if (opts.runningShot) {
      await page.screenshot({ path: opts.runningShot, fullPage: true });
    }
    if (report.stateAfterStart !== 'running') {
      throw new Error(`the page reached state ${report.stateAfterStart}`);
    }
    report.step = 'check the progress events';
    if (!report.progressAtRunning.some((p) => p.state === 'running')) {
      throw new Error('the page showed no "running" launch event');
    }
    if (!report.progressAtRunning.some((p) => p.sessionState === 'ready')) {
      throw new Error('the page showed no "ready" launch event');
    }

    report.step = 'stop the session';
    await page.locator('#stop').click();
    await page.waitForSelector('#state[data-state="stopped"], #state[data-state="error"]');
    report.stateAfterStop = await state();
    mark('stopped');
    if (opts.stoppedShot) {
      await page.screenshot({ path: opts.stoppedShot, fullPage: true });
    }
    if (report.stateAfterStop !== 'stopped') {
      throw new Error(`the page reached state ${report.stateAfterStop}`);
    }
    report.progress = await progress();
    report.pageLog = await pageLog();
    report.step = 'done';
    report.ok = true;
  } catch (err) {
    report.error = String(err && err.message ? err.message : err);
    if (page) {
      try {
        report.pageLog = await page.locator('#log li').allInnerTexts();
        report.progress = await page.locator('#progress li').allInnerTexts();
      } catch (e) {
        // the page is gone: the error says why
      }
    }
  } finally {
    if (browser) await browser.close().catch(() => {});
  }
  mark('total');
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  },
);

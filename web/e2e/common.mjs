// What the browser-test scripts (demo.mjs, admin.mjs) share: their option
// parsing and how they start Debian's Chromium through playwright-core.
import { chromium } from 'playwright-core';

// "--flag value" pairs into opts: `names` maps each flag to its key in
// `defaults` (which also gives every key's default). --chromium and
// --timeout (seconds, a positive number) are always accepted.
export function parseFlags(argv, names, defaults) {
  const opts = { chromium: '/usr/bin/chromium', timeout: 30, ...defaults };
  const all = { ...names, '--chromium': 'chromium', '--timeout': 'timeout' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = all[argv[i]];
    if (!key || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`);
    opts[key] = key === 'timeout' ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!(opts.timeout > 0)) throw new Error('--timeout must be a positive number');
  return opts;
}

export function launchChromium(executablePath, timeoutMs) {
  return chromium.launch({
    executablePath,
    headless: true,
    // No sandbox: CI runs as root, where Chromium refuses to start with it.
    chromiumSandbox: false,
    args: ['--disable-dev-shm-usage'],
    timeout: timeoutMs,
  });
}

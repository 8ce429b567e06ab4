// The mod_pvlaunch demo page: a ParaViewWeb-style client built on wslink's
// SmartConnect. Start asks the launcher for an asynchronous launch
// (`Prefer: respond-async`: 202 at once with the launch resource), follows
// its progress on GET /paraview/<id>/events (Server-Sent Events: queue
// position, state changes, the ready line) and, once the session is ready,
// reads sessionURL and secret from the launch resource and gives them to
// SmartConnect, which then connects directly (no POST of its own), opens the
// websocket and completes the wslink hello with that secret.
import SmartConnect from 'wslink/src/SmartConnect';
import wslinkPackage from 'wslink/package.json';

const $ = (id) => document.getElementById(id);

const ui = {
  start: $('start'),
  stop: $('stop'),
  state: $('state'),
  launchState: $('launch-state'),
  sessionId: $('session-id'),
  sessionURL: $('session-url'),
  clientId: $('client-id'),
  rpcResult: $('rpc-result'),
  progress: $('progress'),
  log: $('log'),
};

// The launcher lives at /paraview on the server that serves this page.
const SESSION_MANAGER_URL = `${window.location.protocol}//${window.location.host}/paraview`;
const APPLICATION = 'demo';
const FINAL_STATES = ['completed', 'failed', 'canceled'];
// After Stop's DELETE, how long the page waits for the stream's final event.
const FINAL_EVENT_WAIT_MS = 2000;

let smartConnect = null; // the SmartConnect of the current session
let session = null; // { id, uri } once the launcher answered
let launch = null; // the launch being followed: { id, uri, events, ended, ... }
let stopping = false;

function timeNow() {
  const time = document.createElement('span');
  time.className = 'time';
  time.textContent = new Date().toISOString().substring(11, 23);
  return time;
}

function log(text, isError = false) {
  const li = document.createElement('li');
  li.append(timeNow(), text);
  if (isError) li.className = 'error';
  ui.log.append(li);
}

function setState(state) {
  ui.state.dataset.state = state;
  ui.state.textContent = state;
  const active = !['idle', 'stopped', 'error'].includes(state);
  ui.start.disabled = active;
  // Stop stays available after an error as long as a session exists.
  ui.stop.disabled = !session || state === 'stopping' || state === 'stopped';
}

function describe(err) {
  if (!err) return 'unknown error';
  if (typeof err === 'string') return err;
  if (err.message) return err.message;
  if (err.type) return `websocket ${err.type}`;
  try {
    return JSON.stringify(err);
  } catch (e) {
    return String(err);
  }
}

function fail(text) {
  log(text, true);
  setState('error');
}

// The launch's state in words: "waiting (queue position 2)", "running
// (session ready)", "canceled".
function launchText(data) {
  let text = data.state || '?';
  const details = [];
  if (data.queuePosition !== undefined) details.push(`queue position ${data.queuePosition}`);
  if (data.sessionState) details.push(`session ${data.sessionState}`);
  if (details.length) text += ` (${details.join(', ')})`;
  return text;
}

function showLaunchState(data) {
  ui.launchState.textContent = launchText(data);
  ui.launchState.dataset.state = data.state || '';
}

// One line of the progress list per server-sent event.
function showProgress(event, data) {
  const li = document.createElement('li');
  li.dataset.event = event;
  li.dataset.state = data.state || '';
  if (data.queuePosition !== undefined) li.dataset.queuePosition = String(data.queuePosition);
  if (data.sessionState) li.dataset.sessionState = data.sessionState;
  const name = document.createElement('span');
  name.className = 'event';
  name.textContent = event;
  li.append(timeNow(), name, launchText(data));
  if (data.line !== undefined) {
    const line = document.createElement('code');
    line.className = 'ready-line';
    line.textContent = data.line;
    li.append(' — ready line: ', line);
  }
  ui.progress.append(li);
}

function forget() {
  if (smartConnect) {
    const sc = smartConnect;
    smartConnect = null;
    sc.destroy();
  }
}

function closeEvents(l) {
  if (l && l.events) {
    l.events.close();
    l.events = null;
  }
}

// The launch ended (final state event, or it is gone): wake Stop's wait.
function launchEnded(l) {
  l.ended = true;
  closeEvents(l);
  const waiters = l.endWaiters.splice(0);
  waiters.forEach((wake) => wake());
}

async function getJSON(url, options = {}) {
  const response = await fetch(url, {
    ...options,
    headers: { Accept: 'application/json', ...(options.headers || {}) },
  });
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    // an answer without JSON: the status says enough
  }
  return { response, body };
}

// The session is ready: sessionURL and secret go to SmartConnect, which
// connects directly (it POSTs to the launcher only without a sessionURL).
function connect(l, info) {
  if (l !== launch || l.connecting) return;
  l.connecting = true;
  session = { id: l.id, uri: l.uri };
  ui.sessionId.textContent = l.id;
  ui.sessionURL.textContent = info.sessionURL;
  log(`websocket ${info.sessionURL}`);
  setState('connecting');

  const config = {
    application: APPLICATION,
    sessionURL: info.sessionURL,
    secret: info.secret,
  };
  const sc = SmartConnect.newInstance({ config });
  smartConnect = sc;

  sc.onConnectionReady((connection) => {
    if (sc !== smartConnect) return;
    const wsSession = connection.getSession();
    setState('calling');
    log('wslink hello accepted (secret from the launcher)');
    wsSession
      .call('demo.info', [])
      .then((result) => {
        if (sc !== smartConnect) return;
        ui.clientId.textContent = result.clientID;
        ui.rpcResult.textContent = JSON.stringify(result);
        log(`demo.info → ${JSON.stringify(result)}`);
        setState('running');
      })
      .catch((err) => fail(`demo.info failed: ${describe(err)}`));
  });

  sc.onConnectionError((connection, err) => {
    if (sc !== smartConnect || stopping) return;
    fail(`connection error: ${describe(err)}`);
  });

  sc.onConnectionClose((connection, event) => {
    if (sc !== smartConnect) return;
    const code = event && event.code ? ` (code ${event.code})` : '';
    log(`websocket closed${code}`, !stopping);
    if (!stopping) setState('error');
  });

  sc.connect();
}

// Ready (the `ready` event, or a first `state` event that says so): the
// launch resource now holds the ParaViewWeb keys sessionURL and secret.
async function sessionReady(l) {
  if (l !== launch || l.connecting || l.fetching) return;
  l.fetching = true;
  log(`GET ${l.uri}`);
  let answer;
  try {
    answer = await getJSON(l.uri);
  } catch (err) {
    if (l === launch) fail(`GET ${l.uri} failed: ${describe(err)}`);
    return;
  } finally {
    l.fetching = false;
  }
  if (l !== launch || stopping) return;
  const { response, body } = answer;
  if (!response.ok || !body || !body.sessionURL || !body.secret) {
    const why = body && body.error ? `: ${body.error}` : ' without sessionURL and secret';
    fail(`GET ${l.uri} → ${response.status}${why}`);
    return;
  }
  log(`GET ${l.uri} → ${response.status}: sessionURL and secret`);
  connect(l, body);
}

function onLaunchEvent(l, event, raw) {
  if (l !== launch) return;
  let data;
  try {
    data = JSON.parse(raw);
  } catch (err) {
    log(`unreadable ${event} event: ${raw}`, true);
    return;
  }
  showProgress(event, data);
  showLaunchState(data);
  if (FINAL_STATES.includes(data.state)) {
    // The stream ends with the launch: close it, or EventSource reconnects.
    launchEnded(l);
    if (!stopping) {
      forget();
      session = null;
      fail(`the launch ended: ${data.state}`);
    }
    return;
  }
  if (stopping || l.connecting) return;
  if (data.state === 'waiting') {
    setState('queued');
  } else if (data.state === 'running' && data.sessionState === 'ready') {
    sessionReady(l);
  } else if (data.state === 'running') {
    setState('starting');
  }
}

// The stream broke for good (EventSource gave up): what does the launch say?
async function eventsLost(l) {
  if (l !== launch || l.ended || stopping) return;
  let answer;
  try {
    answer = await getJSON(l.uri);
  } catch (err) {
    answer = null;
  }
  if (l !== launch || l.ended || stopping || l.connecting) return;
  if (answer && answer.response.ok && answer.body && answer.body.sessionURL) {
    log('launch events lost; the launch resource says the session is ready', true);
    connect(l, answer.body);
    return;
  }
  const status = answer ? ` (GET ${l.uri} → ${answer.response.status})` : '';
  launchEnded(l);
  session = null;
  fail(`lost the launch's events${status}`);
}

function follow(l) {
  const url = `${l.uri}/events`;
  log(`EventSource ${url}`);
  const es = new EventSource(url);
  l.events = es;
  ['state', 'position', 'ready'].forEach((event) => {
    es.addEventListener(event, (e) => onLaunchEvent(l, event, e.data));
  });
  es.onerror = () => {
    // CONNECTING: EventSource reconnects by itself (the first event tells
    // the launch's state again); CLOSED: it gave up.
    if (es.readyState === EventSource.CLOSED && l.events === es) {
      l.events = null;
      eventsLost(l);
    }
  };
}

async function start() {
  forget();
  closeEvents(launch);
  session = null;
  launch = null;
  stopping = false;
  ui.sessionId.textContent = '–';
  ui.sessionURL.textContent = '–';
  ui.clientId.textContent = '–';
  ui.launchState.textContent = '–';
  ui.launchState.dataset.state = '';
  ui.rpcResult.textContent = '';
  ui.progress.replaceChildren();
  setState('launching');
  log(`POST ${SESSION_MANAGER_URL} (application "${APPLICATION}", Prefer: respond-async)`);

  let answer;
  try {
    answer = await getJSON(SESSION_MANAGER_URL, {
      method: 'POST',
      headers: { Prefer: 'respond-async', 'Content-Type': 'application/json' },
      body: JSON.stringify({ application: APPLICATION }),
    });
  } catch (err) {
    fail(`POST failed: ${describe(err)}`);
    return;
  }
  const { response, body } = answer;
  if (!response.ok || !body || !body.id) {
    const why = body && body.error ? `: ${body.error}` : '';
    fail(`POST ${SESSION_MANAGER_URL} → ${response.status}${why}`);
    return;
  }
  const uri = response.headers.get('Content-Location') || body.uri ||
    `/paraview/${encodeURIComponent(body.id)}`;
  const l = { id: body.id, uri, events: null, ended: false, endWaiters: [] };
  launch = l;
  session = { id: l.id, uri };
  ui.sessionId.textContent = l.id;

  if (response.status !== 202 && body.sessionURL) {
    // A launcher without asynchronous launches answers when the session is
    // ready, as to any ParaViewWeb client: nothing to follow.
    log(`POST → ${response.status}: session ${l.id} is ready (no launch events)`);
    l.ended = true;
    connect(l, body);
    return;
  }
  log(`POST → ${response.status}: launch ${l.id} is ${body.state}, at ${uri}`);
  showLaunchState(body);
  setState(body.state === 'waiting' ? 'queued' : 'starting');
  follow(l);
}

// The final event of the launch, or nothing after a while.
function waitForEnd(l, ms) {
  if (!l || l.ended || !l.events) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    l.endWaiters.push(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function stop() {
  if (!session) return;
  stopping = true;
  setState('stopping');
  const l = launch;
  const url = session.uri || `/paraview/${encodeURIComponent(session.id)}`;
  log(`DELETE ${url}`);
  let response;
  let body;
  try {
    ({ response, body } = await getJSON(url, { method: 'DELETE' }));
  } catch (err) {
    fail(`DELETE failed: ${describe(err)}`);
    return;
  }
  if (!response.ok) {
    const why = body && body.error ? `: ${body.error}` : '';
    fail(`DELETE ${url} → ${response.status}${why}`);
    return;
  }
  const what = body && body.state ? `launch ${body.state}` : 'session stopped';
  log(`DELETE ${url} → ${response.status}: ${what}`);
  // The app is gone and its websocket with it; drop the client, and let the
  // event stream say its last word (the launch's final state).
  forget();
  if (!(await waitForEnd(l, FINAL_EVENT_WAIT_MS))) {
    log('no final launch event', true);
    closeEvents(l);
  }
  if (l !== launch) return;
  session = null;
  setState('stopped');
}

ui.start.addEventListener('click', start);
ui.stop.addEventListener('click', stop);
$('wslink-version').textContent = `wslink ${wslinkPackage.version}`;
setState('idle');

// The mod_pvlaunch demo page: a ParaViewWeb-style client built on wslink's
// SmartConnect, the way ParaViewWeb applications (Visualizer, trame, ...)
// reach their session: SmartConnect POSTs the config to sessionManagerURL,
// takes sessionURL and secret from the launcher's answer, opens the
// websocket and completes the wslink hello with that secret.
import SmartConnect from 'wslink/src/SmartConnect';
import wslinkPackage from 'wslink/package.json';

const $ = (id) => document.getElementById(id);

const ui = {
  start: $('start'),
  stop: $('stop'),
  state: $('state'),
  sessionId: $('session-id'),
  sessionURL: $('session-url'),
  clientId: $('client-id'),
  rpcResult: $('rpc-result'),
  log: $('log'),
};

// The launcher lives at /paraview on the server that serves this page.
const SESSION_MANAGER_URL = `${window.location.protocol}//${window.location.host}/paraview`;
const APPLICATION = 'demo';

let smartConnect = null; // the SmartConnect of the current session
let session = null; // { id, sessionURL } once the launcher answered
let stopping = false;

function log(text, isError = false) {
  const li = document.createElement('li');
  const time = document.createElement('span');
  time.className = 'time';
  time.textContent = new Date().toISOString().substring(11, 23);
  li.append(time, text);
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

function forget() {
  if (smartConnect) {
    const sc = smartConnect;
    smartConnect = null;
    sc.destroy();
  }
}

function start() {
  session = null;
  stopping = false;
  ui.sessionId.textContent = '–';
  ui.sessionURL.textContent = '–';
  ui.clientId.textContent = '–';
  ui.rpcResult.textContent = '';
  setState('launching');
  log(`POST ${SESSION_MANAGER_URL} (application "${APPLICATION}")`);

  const config = {
    application: APPLICATION,
    sessionManagerURL: SESSION_MANAGER_URL,
  };
  const sc = SmartConnect.newInstance({ config });
  smartConnect = sc;

  // SmartConnect merges the launcher's answer (id, sessionURL, secret) into
  // its config before it opens the websocket: the decorator sees it first.
  sc.setConfigDecorator((cfg) => {
    if (cfg.id && !session) {
      session = { id: cfg.id, sessionURL: cfg.sessionURL };
      ui.sessionId.textContent = cfg.id;
      ui.sessionURL.textContent = cfg.sessionURL;
      log(`launcher: session ${cfg.id} is ready`);
      log(`websocket ${cfg.sessionURL}`);
      setState('connecting');
    }
    return cfg;
  });

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

async function stop() {
  if (!session) return;
  stopping = true;
  setState('stopping');
  const url = `/paraview/${encodeURIComponent(session.id)}`;
  log(`DELETE ${url}`);
  let response;
  try {
    response = await fetch(url, { method: 'DELETE' });
  } catch (err) {
    fail(`DELETE failed: ${describe(err)}`);
    return;
  }
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    // an answer without JSON: the status says enough
  }
  if (!response.ok) {
    const why = body && body.error ? `: ${body.error}` : '';
    fail(`DELETE ${url} → ${response.status}${why}`);
    return;
  }
  log(`DELETE ${url} → ${response.status}: session stopped`);
  // The app is gone and its websocket with it; drop the client.
  forget();
  session = null;
  setState('stopped');
}

ui.start.addEventListener('click', start);
ui.stop.addEventListener('click', stop);
$('wslink-version').textContent = `wslink ${wslinkPackage.version}`;
setState('idle');

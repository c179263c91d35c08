// The dev backend's JSON API and its Server-Sent Events stream.

async function request(method, path, body) {
  const init = { method, headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error: text.slice(0, 200) };
    }
  }
  if (!res.ok) {
    const err = new Error((data && data.error) || `${method} ${path}: HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

const enc = encodeURIComponent;

export const api = {
  health: () => request('GET', '/health'),
  agents: () => request('GET', '/api/agents'),
  exceptionGroups: () => request('GET', '/api/exceptions'),
  exceptionGroup: (fingerprint) => request('GET', `/api/exceptions/${enc(fingerprint)}`),
  event: (id) => request('GET', `/api/events/${enc(id)}`),
  breakpoints: () => request('GET', '/api/breakpoints'),
  createBreakpoint: (body) => request('POST', '/api/breakpoints', body),
  removeBreakpoint: (id) => request('DELETE', `/api/breakpoints/${enc(id)}`),
  breakpointHits: (id) => request('GET', `/api/breakpoints/${enc(id)}/hits`),
  source: (file, line, context = 5) =>
    request('GET', `/api/source?file=${enc(file)}&line=${enc(line)}&context=${enc(context)}`),
};

export const STREAM_EVENTS = ['agent', 'exception', 'breakpoint', 'breakpoint_status', 'breakpoint_hit'];

/**
 * Subscribes to /api/stream. `onEvent(name, data)` for each event, `onState('live'|'connecting')`
 * as the connection changes (EventSource reconnects by itself).
 */
export function openStream(onEvent, onState) {
  const source = new EventSource('/api/stream');
  source.addEventListener('open', () => onState('live'));
  source.addEventListener('error', () => onState(source.readyState === EventSource.CLOSED ? 'offline' : 'connecting'));
  for (const name of STREAM_EVENTS) {
    source.addEventListener(name, (e) => {
      let data = null;
      try {
        data = JSON.parse(e.data);
      } catch {
        // a malformed event only costs us the refresh hint it carried
      }
      onEvent(name, data);
    });
  }
  return source;
}

/**
 * Wraps an async loader so that bursts of calls run it at most once at a time plus once after:
 * a flood of live events costs a couple of requests, not one per event.
 */
export function coalesced(load) {
  let running = null;
  let again = false;
  const run = (...args) => {
    if (running) {
      again = true;
      return running;
    }
    running = Promise.resolve(load(...args)).finally(() => {
      running = null;
      if (again) {
        again = false;
        void run();
      }
    });
    return running;
  };
  return run;
}

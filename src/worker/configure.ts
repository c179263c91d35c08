import { parseBooleanSetting, parseNumberSetting, SETTING_RANGES, usableBlockedLoopThreshold } from '../shared/config';

/** Settings the backend's `configure` may change while the app runs. */
export interface LiveSettings {
  samplingRate?: number;
  maxCaptureDepth?: number;
  maxStringLength?: number;
  maxCollectionSize?: number;
  enableBreakpoints?: boolean;
  debug?: boolean;
  /** Blocked-loop reports from this many ms (0: off). */
  eventLoopBlockedMs?: number;
}

export interface ParsedConfigure {
  settings: LiveSettings;
  /** `key=value` pairs refused by validation, for one debug line. */
  rejected: string[];
  /** Keys we do not change live. */
  ignored: string[];
  /** Values taken, but changed to the nearest allowed one (said in debug mode). */
  adjusted: string[];
}

type NumberKey = keyof typeof SETTING_RANGES;

// Wire names (snake_case, as the other AIVory agents accept them) -> setting.
const NUMBER_KEYS: Record<string, NumberKey> = {
  sampling_rate: 'samplingRate',
  max_capture_depth: 'maxCaptureDepth',
  max_depth: 'maxCaptureDepth',
  max_string_length: 'maxStringLength',
  max_collection_size: 'maxCollectionSize',
  event_loop_blocked_ms: 'eventLoopBlockedMs',
};
const BOOLEAN_KEYS: Record<string, 'enableBreakpoints' | 'debug'> = {
  enable_breakpoints: 'enableBreakpoints',
  debug: 'debug',
};

/** Validates a `configure` payload like env values; never throws. */
export function parseConfigure(payload: unknown): ParsedConfigure {
  const result: ParsedConfigure = { settings: {}, rejected: [], ignored: [], adjusted: [] };
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return result;
  for (const [key, value] of Object.entries(payload as Record<string, unknown>)) {
    const numberKey = NUMBER_KEYS[key];
    const booleanKey = BOOLEAN_KEYS[key];
    if (numberKey) {
      const [min, max, integer] = SETTING_RANGES[numberKey];
      const n = parseNumberSetting(value, min, max, integer);
      if (n === undefined) result.rejected.push(`${key}=${describe(value)}`);
      else {
        const used = numberKey === 'eventLoopBlockedMs' ? usableBlockedLoopThreshold(n) : n;
        if (used !== n) result.adjusted.push(`${key}=${n} is below ${used} ms; using ${used}`);
        result.settings[numberKey] = used;
      }
    } else if (booleanKey) {
      const b = parseBooleanSetting(value);
      if (b === undefined) result.rejected.push(`${key}=${describe(value)}`);
      else result.settings[booleanKey] = b;
    } else if (result.ignored.length < 20) result.ignored.push(key.slice(0, 60));
  }
  return result;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeof value;
}

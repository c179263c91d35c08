/**
 * Validation of breakpoint conditions, at set time, in the worker.
 *
 * A condition runs inside V8's breakpoint condition on the app's thread every time the line runs,
 * so it must be a side-effect free expression. We reject up front anything that can write or call
 * arbitrary code: assignments, ++/--, `new`, `delete`, function/class literals, statements, template
 * literals, comments, escapes in identifiers, and calls other than a short list of read-only
 * built-ins (`includes`, `startsWith`, `Math.abs`, `String(x)`, ...). Property reads stay allowed
 * (as in every debugger), so a user getter or Proxy can still run; that is the documented limit.
 *
 * V8's own side-effect check (`throwOnSideEffect`) was the alternative, but it exists only for
 * evaluations made during a pause: every execution of the line would pause the app (~260-330 µs)
 * before the condition is even looked at. Static validation keeps "no match" pause-free.
 */

export type ConditionCheck = { ok: true; expression: string } | { ok: false; message: string };

/** Names a condition may not mention at all (globals that reach the process or code generation). */
const FORBIDDEN_NAMES = new Set([
  'process', 'require', 'module', 'exports', 'import', 'globalThis', 'global', 'window', 'self',
  'Function', 'AsyncFunction', 'GeneratorFunction', 'eval', 'Reflect', 'Proxy', 'Atomics', 'WebAssembly',
  'setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask', 'fetch', 'Buffer', 'Symbol',
  'constructor', 'prototype', '__proto__', '__defineGetter__', '__defineSetter__', '__lookupGetter__',
  '__lookupSetter__', 'Promise', 'structuredClone', 'SharedArrayBuffer', 'WeakRef',
  'FinalizationRegistry', 'console',
]);

/**
 * Keywords that create objects, delete, define functions or classes, or make statements (the last are
 * syntax errors in an expression anyway; naming them gives a clearer message). `typeof`, `instanceof`,
 * `in`, `void` and `this` stay allowed; contextual words (`get`, `set`, `of`, `async`, `let`) are
 * ordinary variable names.
 */
const FORBIDDEN_KEYWORDS = new Set([
  'new', 'delete', 'function', 'class', 'await', 'yield', 'var', 'const', 'if', 'else', 'for', 'while',
  'do', 'return', 'throw', 'try', 'catch', 'finally', 'with', 'debugger', 'super', 'switch', 'case',
  'export', 'break', 'continue',
]);

/** Functions callable by bare name: conversions and checks that only read. */
const SAFE_FUNCTIONS = new Set(['String', 'Number', 'Boolean', 'BigInt', 'isNaN', 'isFinite', 'parseInt', 'parseFloat']);

/** Methods callable as `x.name(...)`: read-only methods of strings, arrays, Map/Set, Math, Number, Array, Object, Date. */
const SAFE_METHODS = new Set([
  'includes', 'startsWith', 'endsWith', 'indexOf', 'lastIndexOf', 'at', 'charAt', 'charCodeAt',
  'codePointAt', 'toLowerCase', 'toUpperCase', 'trim', 'trimStart', 'trimEnd', 'slice', 'substring',
  'has', 'isArray', 'isInteger', 'isSafeInteger', 'isFinite', 'isNaN', 'abs', 'floor', 'ceil', 'round',
  'trunc', 'sign', 'min', 'max', 'sqrt', 'pow', 'toFixed', 'getTime', 'localeCompare', 'keys',
  'values', 'entries', 'is',
]);

/** Multi-character punctuators, longest first. Assignment forms are listed so they are recognised (and refused). */
const PUNCTUATORS = [
  '>>>=', '...', '===', '!==', '**=', '<<=', '>>=', '>>>', '&&=', '||=', '??=',
  '=>', '==', '!=', '<=', '>=', '&&', '||', '??', '?.', '**', '<<', '>>', '++', '--',
  '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=',
  '(', ')', '[', ']', '{', '}', '.', ',', '?', ':', '+', '-', '*', '/', '%', '<', '>', '!', '~', '&', '|', '^', '=', ';', '#', '@',
];
const REFUSED_PUNCTUATORS: Record<string, string> = {
  '=': 'assignment', '+=': 'assignment', '-=': 'assignment', '*=': 'assignment', '/=': 'assignment',
  '%=': 'assignment', '**=': 'assignment', '<<=': 'assignment', '>>=': 'assignment', '>>>=': 'assignment',
  '&=': 'assignment', '|=': 'assignment', '^=': 'assignment', '&&=': 'assignment', '||=': 'assignment',
  '??=': 'assignment', '++': 'increment', '--': 'decrement', '=>': 'function', '{': 'block or object literal',
  '}': 'block or object literal', ';': 'statement', '#': 'private name', '@': 'decorator', '...': 'spread',
};

type Token = { kind: 'name' | 'number' | 'string' | 'punct'; text: string };

const IDENT_START = /[\p{ID_Start}$_]/u;
const IDENT_PART = /[\p{ID_Continue}$\u200c\u200d]/u;

function tokenize(src: string): Token[] | string {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '/' && (src[i + 1] === '/' || src[i + 1] === '*')) return 'comments are not allowed';
    if (c === '`') return 'template literals are not allowed';
    if (c === '\\') return 'escapes outside strings are not allowed';
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\n' || src[j] === '\r') return 'unterminated string';
        j += src[j] === '\\' ? 2 : 1;
      }
      if (j >= src.length) return 'unterminated string';
      tokens.push({ kind: 'string', text: src.slice(i, j + 1) });
      i = j + 1;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:[0-9][0-9_]*)?\.?[0-9_]*(?:[eE][+-]?[0-9_]+)?)n?/.exec(src.slice(i));
      const text = m?.[0] ?? c;
      tokens.push({ kind: 'number', text });
      i += Math.max(1, text.length);
      continue;
    }
    if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < src.length && IDENT_PART.test(src[j] as string)) j++;
      tokens.push({ kind: 'name', text: src.slice(i, j) });
      i = j;
      continue;
    }
    const p = PUNCTUATORS.find((q) => src.startsWith(q, i));
    if (!p) return `unexpected character ${JSON.stringify(c)}`;
    tokens.push({ kind: 'punct', text: p });
    i += p.length;
  }
  return tokens;
}

/** Checks a condition; returns the trimmed expression when it may run inside the V8 condition. */
export function validateCondition(input: unknown, maxLength: number): ConditionCheck {
  if (typeof input !== 'string') return { ok: false, message: 'condition must be a string' };
  const expression = input.trim();
  if (expression === '') return { ok: false, message: 'condition is empty' };
  if (expression.length > maxLength) return { ok: false, message: `condition is longer than ${maxLength} characters` };
  // Sloppy-mode scripts treat these as line comments; they would hide the rest of our wrapper.
  if (expression.includes('<!--') || expression.includes('-->')) return { ok: false, message: 'comments are not allowed' };
  const tokens = tokenize(expression);
  if (typeof tokens === 'string') return { ok: false, message: `condition rejected: ${tokens}` };

  const stack: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    const prev = tokens[i - 1];
    const afterDot = prev?.kind === 'punct' && (prev.text === '.' || prev.text === '?.');
    if (t.kind === 'name') {
      if (FORBIDDEN_NAMES.has(t.text)) return { ok: false, message: `condition rejected: \`${t.text}\` is not allowed` };
      if (!afterDot && FORBIDDEN_KEYWORDS.has(t.text)) return { ok: false, message: `condition rejected: \`${t.text}\` is not allowed` };
      continue;
    }
    if (t.kind !== 'punct') continue;
    const refused = REFUSED_PUNCTUATORS[t.text];
    if (refused) return { ok: false, message: `condition rejected: ${refused} (\`${t.text}\`) is not allowed` };
    if (t.text === '(') {
      const callee = calleeOf(tokens, i);
      if (callee === 'grouping') {
        // not a call
      } else if (callee === null) {
        return { ok: false, message: 'condition rejected: only calls to read-only built-ins are allowed' };
      } else if (callee.method ? !SAFE_METHODS.has(callee.name) : !SAFE_FUNCTIONS.has(callee.name)) {
        return { ok: false, message: `condition rejected: calling \`${callee.name}\` is not allowed` };
      }
      stack.push(')');
    } else if (t.text === '[') {
      stack.push(']');
    } else if (t.text === ')' || t.text === ']') {
      if (stack.pop() !== t.text) return { ok: false, message: 'condition rejected: unbalanced brackets' };
    }
  }
  if (stack.length) return { ok: false, message: 'condition rejected: unbalanced brackets' };
  const syntax = checkSyntax(expression);
  if (syntax) return { ok: false, message: `condition is not a valid expression: ${syntax}` };
  return { ok: true, expression };
}

/** What a '(' at index i applies to: a grouping paren, a named callee, or a call we cannot name (refused). */
function calleeOf(tokens: Token[], i: number): 'grouping' | { name: string; method: boolean } | null {
  const prev = tokens[i - 1];
  if (!prev) return 'grouping';
  if (prev.kind === 'punct') {
    if (prev.text === ')' || prev.text === ']' || prev.text === '?.') return null;
    return 'grouping';
  }
  if (prev.kind === 'name') {
    const before = tokens[i - 2];
    const method = before?.kind === 'punct' && (before.text === '.' || before.text === '?.');
    // `typeof (x)`, `in (a)`, `instanceof (B)`, `void (0)` are operators, not calls.
    if (!method && (prev.text === 'typeof' || prev.text === 'in' || prev.text === 'instanceof' || prev.text === 'void')) return 'grouping';
    return { name: prev.text, method };
  }
  return null; // a string or number followed by '(' is a call of a non-function
}

/** Parses (never runs) the expression; returns V8's SyntaxError message, or '' when it parses. */
function checkSyntax(expression: string): string {
  try {
    // Only compiles: the body is never called. Runs in the agent worker, not on the app's thread.
    new Function(`return (\n${expression}\n);`);
    return '';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

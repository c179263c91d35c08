/**
 * The variables a breakpoint's frame can see at its line, read from the script's source (worker,
 * at install time). Knowing the names lets the V8 condition copy their values while the line runs,
 * so a hit needs no pause: a pause costs ~30 µs per stack frame before any work (0.4 ms at depth
 * 10, 1.2 ms at 40, measured on Node 20), past the 1 ms a request may be held.
 *
 * The names mirror what a pause shows: the function's own parameters and declarations (blocks on
 * the way to the line included) and, from enclosing functions, the variables the function uses.
 * Module-level names are left out (imports and top-level helpers: noise), except in top-level
 * code, where they are the frame's own. A name that turns out to be unreadable at the line (a `let`
 * not initialised yet) is skipped by the condition.
 */
import { parse, type Node } from 'acorn';

export interface FrameNames {
  /** Variable names, innermost scope first, no duplicates. */
  names: string[];
  /**
   * The frame's own `let`/`const`/`class` names (among `names`) whose declaration has not run yet
   * when the line runs: uninitialised there. The condition cannot tell them from `undefined`.
   */
  uninitialized: string[];
  /** The enclosing function's name ('' for anonymous functions and top-level code). */
  functionName: string;
}

/** Sources larger than this are not parsed (a hit then pauses, as without names). */
const MAX_SOURCE = 8 * 1024 * 1024;
const MAX_NAMES = 200;
/** Names a condition cannot assign from, or that are not variables of the frame. */
const SKIPPED = new Set(['arguments', 'eval', 'await', 'yield', 'let', 'undefined']);

type AnyNode = Node & Record<string, unknown>;

const isNode = (v: unknown): v is AnyNode => v !== null && typeof v === 'object' && typeof (v as { type?: unknown }).type === 'string';
const isFunction = (n: AnyNode): boolean => n.type === 'FunctionDeclaration' || n.type === 'FunctionExpression' || n.type === 'ArrowFunctionExpression';

function children(n: AnyNode): AnyNode[] {
  const out: AnyNode[] = [];
  for (const key in n) {
    if (key === 'loc' || key === 'range') continue;
    const v = n[key];
    if (Array.isArray(v)) {
      for (const c of v) if (isNode(c)) out.push(c);
    } else if (isNode(v)) out.push(v);
  }
  return out;
}

function parseSource(source: string): AnyNode | undefined {
  const common = { ecmaVersion: 'latest' as const, allowHashBang: true, allowAwaitOutsideFunction: true };
  try {
    return parse(source, { ...common, sourceType: 'script', allowReturnOutsideFunction: true }) as unknown as AnyNode;
  } catch {
    try {
      return parse(source, { ...common, sourceType: 'module' }) as unknown as AnyNode;
    } catch {
      return undefined;
    }
  }
}

/** Identifiers bound by a pattern (`{ a, b: [c, ...d] = x }` -> a, c, d). */
function patternNames(p: unknown, out: string[]): void {
  if (!isNode(p)) return;
  switch (p.type) {
    case 'Identifier':
      out.push(p.name as string);
      break;
    case 'ObjectPattern':
      for (const prop of p.properties as AnyNode[]) patternNames(prop.type === 'RestElement' ? prop.argument : prop.value, out);
      break;
    case 'ArrayPattern':
      for (const el of p.elements as unknown[]) patternNames(el, out);
      break;
    case 'RestElement':
      patternNames(p.argument, out);
      break;
    case 'AssignmentPattern':
      patternNames(p.left, out);
      break;
  }
}

/** `var` declarations of a function body (hoisted, nested blocks included, nested functions not). */
function varNames(n: AnyNode, out: string[]): void {
  for (const c of children(n)) {
    if (isFunction(c) || c.type === 'ClassDeclaration' || c.type === 'ClassExpression') continue;
    if (c.type === 'VariableDeclaration' && c.kind === 'var') for (const d of c.declarations as AnyNode[]) patternNames(d.id, out);
    varNames(c, out);
  }
}

/** Declarations a block-like node makes visible to code inside it. */
function blockNames(n: AnyNode, out: string[]): void {
  for (let s of statementsOf(n)) {
    if (s.type === 'ExportNamedDeclaration' || s.type === 'ExportDefaultDeclaration') {
      if (!isNode(s.declaration)) continue;
      s = s.declaration;
    }
    if (s.type === 'VariableDeclaration' && s.kind !== 'var') for (const d of s.declarations as AnyNode[]) patternNames(d.id, out);
    else if ((s.type === 'FunctionDeclaration' || s.type === 'ClassDeclaration') && isNode(s.id)) out.push(s.id.name as string);
    else if (s.type === 'ImportDeclaration') for (const spec of s.specifiers as AnyNode[]) patternNames(spec.local, out);
  }
  if (n.type === 'CatchClause') patternNames(n.param, out);
  if (n.type === 'ForStatement' && isNode(n.init) && n.init.type === 'VariableDeclaration' && n.init.kind !== 'var') {
    for (const d of n.init.declarations as AnyNode[]) patternNames(d.id, out);
  }
  if ((n.type === 'ForInStatement' || n.type === 'ForOfStatement') && isNode(n.left) && n.left.type === 'VariableDeclaration' && n.left.kind !== 'var') {
    for (const d of n.left.declarations as AnyNode[]) patternNames(d.id, out);
  }
  if (n.type === 'ClassExpression' && isNode(n.id)) out.push(n.id.name as string);
}

/** The statements a block-like node runs in order (where its lexical declarations are). */
function statementsOf(n: AnyNode): AnyNode[] {
  if (n.type === 'BlockStatement' || n.type === 'Program' || n.type === 'StaticBlock') return n.body as AnyNode[];
  if (n.type === 'SwitchStatement') return (n.cases as AnyNode[]).flatMap((c) => c.consequent as AnyNode[]);
  return [];
}

/** `let`/`const`/`class` names of a block-like node not yet initialised at `pos` (their declaration ends after it). */
function uninitializedAt(n: AnyNode, pos: number, out: string[]): void {
  for (let s of statementsOf(n)) {
    if (s.type === 'ExportNamedDeclaration' && isNode(s.declaration)) s = s.declaration;
    if (s.type === 'VariableDeclaration' && s.kind !== 'var') {
      for (const d of s.declarations as AnyNode[]) if (d.end > pos) patternNames(d.id, out);
    } else if (s.type === 'ClassDeclaration' && isNode(s.id) && s.end > pos) out.push(s.id.name as string);
  }
}

/** Names a function's own scope holds: parameters and vars (its hoisted functions are in its body block). */
function functionOwnNames(f: AnyNode, out: string[]): void {
  for (const p of f.params as AnyNode[]) patternNames(p, out);
  if (isNode(f.body)) varNames(f.body, out);
}

/** Identifiers used as variables inside a node (not property names). */
function referencedNames(n: AnyNode, out: Set<string>): void {
  const visit = (node: AnyNode, parent: AnyNode | undefined, key: string): void => {
    if (node.type === 'Identifier') {
      const isPropertyName =
        parent !== undefined &&
        (((parent.type === 'MemberExpression' || parent.type === 'PropertyDefinition' || parent.type === 'MethodDefinition') && key === 'property' && !parent.computed) ||
          ((parent.type === 'Property' || parent.type === 'PropertyDefinition' || parent.type === 'MethodDefinition') && key === 'key' && !parent.computed));
      if (!isPropertyName) out.add(node.name as string);
      return;
    }
    for (const k in node) {
      if (k === 'loc') continue;
      const v = node[k];
      if (Array.isArray(v)) {
        for (const c of v) if (isNode(c)) visit(c, node, k);
      } else if (isNode(v)) visit(v, node, k);
    }
  };
  visit(n, undefined, '');
}

function functionNameOf(f: AnyNode, parent: AnyNode | undefined): string {
  if (isNode(f.id)) return f.id.name as string;
  if (!parent) return '';
  if (parent.type === 'VariableDeclarator' && isNode(parent.id) && parent.id.type === 'Identifier') return parent.id.name as string;
  if ((parent.type === 'Property' || parent.type === 'MethodDefinition' || parent.type === 'PropertyDefinition') && isNode(parent.key) && parent.key.type === 'Identifier') {
    return parent.key.name as string;
  }
  if (parent.type === 'AssignmentExpression' && isNode(parent.left) && parent.left.type === 'MemberExpression' && isNode(parent.left.property)) {
    return (parent.left.property.name as string | undefined) ?? '';
  }
  return '';
}

/** Character offset of a 0-based line and UTF-16 column (V8's breakpoint location). */
function offsetOf(source: string, line: number, column: number): number {
  let at = 0;
  for (let l = 0; l < line; l++) {
    const nl = source.indexOf('\n', at);
    if (nl < 0) return -1;
    at = nl + 1;
  }
  return at + column;
}

/**
 * The variables visible at (0-based) `line`/`column` of `source`, or undefined when the source
 * cannot be parsed or is too large (the caller then captures through a pause).
 */
export function frameNamesAt(source: string, line: number, column: number): FrameNames | undefined {
  if (source.length > MAX_SOURCE) return undefined;
  const pos = offsetOf(source, line, column);
  if (pos < 0) return undefined;
  const program = parseSource(source);
  if (!program) return undefined;

  // The nodes containing the position, outermost first. A position at the very start of a
  // function literal is where the enclosing function creates it: that frame is the enclosing one.
  const path: AnyNode[] = [program];
  for (;;) {
    const inner = children(path[path.length - 1]).find((c) => c.start <= pos && pos < c.end);
    if (!inner || (isFunction(inner) && inner.start === pos)) break;
    path.push(inner);
  }

  // Scopes from the innermost outwards: each function with the blocks between it and the next one in.
  let fnIndex = -1;
  for (let i = path.length - 1; i >= 0; i--) {
    if (isFunction(path[i])) {
      fnIndex = i;
      break;
    }
  }

  const ordered: string[] = [];
  const seen = new Set<string>();
  const add = (names: string[], keep?: Set<string>): void => {
    for (const n of names) {
      if (ordered.length >= MAX_NAMES) return;
      if (seen.has(n) || SKIPPED.has(n) || (keep && !keep.has(n))) continue;
      seen.add(n);
      ordered.push(n);
    }
  };
  const blocksBetween = (from: number, to: number): string[] => {
    const out: string[] = [];
    for (let i = to - 1; i > from; i--) blockNames(path[i], out);
    return out;
  };

  // The frame's own blocks (innermost first, out to `from`) whose lexical names are still uninitialised at the line.
  const uninitialized = (from: number): string[] => {
    const out: string[] = [];
    for (let i = path.length - 1; i >= from; i--) uninitializedAt(path[i], pos, out);
    return out.filter((n) => seen.has(n));
  };

  if (fnIndex < 0) {
    // Top-level code: the module's own declarations are the frame's.
    add(blocksBetween(0, path.length));
    const top: string[] = [];
    blockNames(program, top);
    varNames(program, top);
    add(top);
    return { names: ordered, uninitialized: uninitialized(0), functionName: '' };
  }

  const fn = path[fnIndex];
  const own: string[] = blocksBetween(fnIndex, path.length);
  functionOwnNames(fn, own);
  add(own);
  // Taken before the enclosing functions' names are added: only the frame's own can be uninitialised.
  const ownUninitialized = uninitialized(fnIndex + 1);
  // Enclosing functions (not the module level): only the variables this function uses.
  const used = new Set<string>();
  referencedNames(fn, used);
  let inner = fnIndex;
  for (let i = fnIndex - 1; i >= 0; i--) {
    if (!isFunction(path[i])) continue;
    const names = blocksBetween(i, inner);
    functionOwnNames(path[i], names);
    add(names, used);
    inner = i;
  }
  return { names: ordered, uninitialized: ownUninitialized, functionName: functionNameOf(fn, path[fnIndex - 1]) };
}

// What the Node version running the tests can do, where the agent's behaviour depends on it.

/** Whether module.registerHooks can take the agent's load hook (nodejs/node#59929): 22.22.3+, 24.11.1+, 25.1+. */
export function inThreadHooks(version = process.versions.node) {
  const [major, minor, patch] = version.split('.').map(Number);
  if (major === 22) return minor > 22 || (minor === 22 && patch >= 3);
  if (major === 24) return minor > 11 || (minor === 11 && patch >= 1);
  if (major === 25) return minor >= 1;
  return major >= 26;
}

import type { GitContext } from './protocol';

type Env = Record<string, string | undefined>;

const COMMIT_VARS = ['AIVORY_COMMIT', 'GITHUB_SHA', 'CI_COMMIT_SHA', 'VERCEL_GIT_COMMIT_SHA', 'HEROKU_SLUG_COMMIT', 'CIRCLE_SHA1', 'BITBUCKET_COMMIT', 'RENDER_GIT_COMMIT', 'SOURCE_VERSION'];
const BRANCH_VARS = ['AIVORY_BRANCH', 'GITHUB_REF_NAME', 'CI_COMMIT_REF_NAME', 'VERCEL_GIT_COMMIT_REF', 'CIRCLE_BRANCH', 'BITBUCKET_BRANCH', 'RENDER_GIT_BRANCH'];
const REPO_VARS = ['AIVORY_REPOSITORY', 'GITHUB_REPOSITORY', 'CI_PROJECT_PATH', 'CIRCLE_PROJECT_REPONAME', 'BITBUCKET_REPO_FULL_NAME', 'RENDER_GIT_REPO_SLUG'];
const VERSION_VARS = ['AIVORY_VERSION', 'npm_package_version'];

const SHA = /^[0-9a-f]{7,40}$/i;

function first(env: Env, names: readonly string[]): string | undefined {
  for (const n of names) {
    const v = env[n];
    if (typeof v === 'string' && v.trim() !== '') return v.trim();
  }
  return undefined;
}

/**
 * Release and git facts from the init `release` option, AIVORY_RELEASE (`name@1.2.3` or a sha),
 * AIVORY_VERSION/COMMIT/BRANCH/REPOSITORY, then common CI and PaaS variables. Undefined when nothing is known.
 */
export function resolveGitContext(releaseOption: unknown, env: Env): GitContext | undefined {
  const release = typeof releaseOption === 'string' && releaseOption.trim() !== '' ? releaseOption.trim() : first(env, ['AIVORY_RELEASE']);
  let commit = first(env, COMMIT_VARS);
  let version = first(env, VERSION_VARS);
  let projectName = env.npm_package_name?.trim() || undefined;
  if (release) {
    if (SHA.test(release)) commit = commit ?? release;
    else {
      const at = release.lastIndexOf('@');
      if (at > 0) {
        projectName = release.slice(0, at);
        version = release.slice(at + 1) || version;
      } else version = release;
    }
  }
  const remote = first(env, REPO_VARS);
  const branch = first(env, BRANCH_VARS);
  if (!commit && !version && !branch && !remote) return undefined;
  const ctx: GitContext = { source: 'agent', captured_at: new Date().toISOString() };
  if (commit) {
    ctx.commit_hash = commit;
    ctx.commit_short = commit.slice(0, 7);
  }
  if (branch) ctx.branch = branch;
  if (remote) {
    ctx.remote_url = env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY === remote ? `${env.GITHUB_SERVER_URL}/${remote}` : remote;
    ctx.project_identifier = remote;
  }
  if (version) ctx.version = version;
  if (projectName) ctx.project_name = projectName;
  return ctx;
}

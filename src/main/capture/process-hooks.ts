import { reportError } from './report';

/**
 * Reports crashes through 'uncaughtExceptionMonitor' only: adding 'uncaughtException' or
 * 'unhandledRejection' listeners would change whether the process dies.
 */
export function installProcessHooks(): () => void {
  const onMonitor = (error: unknown, origin: string): void => {
    reportError(error, origin === 'unhandledRejection' ? 'unhandled_rejection' : 'uncaught');
  };
  process.on('uncaughtExceptionMonitor', onMonitor);
  return () => process.removeListener('uncaughtExceptionMonitor', onMonitor);
}

// ESM entry: the same single agent as `require('aivory-monitor')`.
import api from './dist/index.js';

export const { init, captureException, setContext, setUser, flush, shutdown } = api;
export default api;

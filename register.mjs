// Preload entry for `node --import aivory-monitor/register`.
import './dist/register.js';

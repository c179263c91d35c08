/** `aivory-monitor server`: to be completed by the transport/server work. */
export async function serverCommand(_args: string[]): Promise<number> {
  process.stderr.write('aivory-monitor server: not available in this build\n');
  return 1;
}

export function writeReport(r: Record<string, unknown>): string {
  return "```json\n" + JSON.stringify(r, null, 1) + "\n```\n";
}

import { ExportResult } from './export.js';
export async function writeGgufExport(): Promise<ExportResult> { throw new Error('todo'); }

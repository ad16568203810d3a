import { ExportResult } from './export.js';
export async function writeOnnxExport(): Promise<ExportResult> { throw new Error('todo'); }

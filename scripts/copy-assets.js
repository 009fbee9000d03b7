#!/usr/bin/env node
// After tsc: copies the dashboard page and its browser assets into dist/, so the published package serves them.
import { cpSync } from 'node:fs';

cpSync('src/server/dashboard', 'dist/server/dashboard', { recursive: true });

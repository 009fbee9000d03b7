#!/usr/bin/env node
// After tsc, in packages/server: copies the dashboard page and its browser assets into dist/, so the published package
// serves them.
import { cpSync } from 'node:fs';

cpSync('src/dashboard', 'dist/dashboard', { recursive: true });

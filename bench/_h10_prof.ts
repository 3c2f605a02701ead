import { blasBackend } from '../src/backend/index.js';
import type { Backend } from '../src/backend/backend.js';
import { aeStepMs, cnnStepMs, ddpmStepMs } from './engine.js';
const b = blasBackend(); if (typeof b === 'string') throw new Error(b);
const be: Backend = b;
const w = process.argv[2] ?? 'cnn';
if (w === 'cnn') cnnStepMs(be, 30);
if (w === 'ae') aeStepMs(be, { L: 192, channels: [16, 32, 64, 64, 16], latent: 64, batch: 50 }, 60);
if (w === 'ddpm') ddpmStepMs(be, 40);

/** The app's entry point (cdktf.json "app" → scripts/app/app.js): synthesizes main.ts's app. */
import { synthesize } from '../../main';

synthesize();

#!/usr/bin/env node
// The `bootchain` command: runs the built CLI (npm run build first).
require('../out/main/cli.js');

import { MEMORY_CAPABILITIES } from '../../adapters/memory/index.js';
import { connect } from '../../src/index.js';
import { conformance } from '../../src/testing/conformance.js';

conformance({
  name: 'memory',
  connect: () => connect('memory://conformance'),
  capabilities: MEMORY_CAPABILITIES,
});

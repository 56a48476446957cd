// apflow's editor lint rules. The server's validation (apflow validate) stays the authority;
// these show the same problems while a manager draws, before saving.
module.exports = {
  configs: {
    recommended: {
      rules: {
        'executable-process': 'error',
        'human-task-lane': 'error',
        'user-task-form': 'warn',
        'gateway-default-flow': 'error',
        'reserved-ids': 'error',
        'timer-expression': 'error'
      }
    }
  }
};

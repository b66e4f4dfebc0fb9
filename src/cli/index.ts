/** The command line's server side: the local admin endpoint that runs CLI operations for a CLI beside the server. */
export { localAdminRoutes } from './local-admin.js';

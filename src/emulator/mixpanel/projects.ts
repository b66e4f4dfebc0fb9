/**
 * The emulated Mixpanel organisation: projects with their token and legacy API secret, and
 * service accounts with a role per project and an optional expiry. Shared by every emulated API
 * (ingestion now, engage query later), which all authenticate against it.
 */
import { randomBytes } from 'node:crypto';

export type ProjectRole = 'owner' | 'admin' | 'analyst' | 'consumer';
export const PROJECT_ROLES: readonly ProjectRole[] = ['owner', 'admin', 'analyst', 'consumer'];

export interface Project {
  id: string;
  token: string;
  apiSecret: string;
}

export interface ServiceAccount {
  username: string;
  secret: string;
  roles: Map<string, ProjectRole>;
  /** Epoch ms after which the account is rejected; `null` for no expiry. */
  expiresAtMs: number | null;
}

export interface ServiceAccountGrant {
  username: string;
  secret: string;
  role: ProjectRole;
  expiresAtMs?: number | null;
}

export interface ProjectInput {
  id?: string;
  token?: string;
  apiSecret?: string;
  serviceAccounts?: readonly ServiceAccountGrant[];
}

export class ProjectRegistry {
  private readonly projects = new Map<string, Project>();
  private readonly byToken = new Map<string, Project>();
  private readonly bySecret = new Map<string, Project>();
  private readonly accounts = new Map<string, ServiceAccount>();
  private nextId = 1_000_001;

  /** Creates a project; missing id, token and secret are generated. Throws on a clash. */
  createProject(input: ProjectInput = {}): Project {
    const id = input.id ?? this.freshId();
    const token = input.token ?? randomBytes(16).toString('hex');
    const apiSecret = input.apiSecret ?? randomBytes(16).toString('hex');
    if (this.projects.has(id)) throw new Error(`project ${id} already exists`);
    if (this.byToken.has(token) || this.bySecret.has(token) || this.byToken.has(apiSecret) || this.bySecret.has(apiSecret)) {
      throw new Error('token or api secret already in use');
    }
    const project: Project = { id, token, apiSecret };
    this.projects.set(id, project);
    this.byToken.set(token, project);
    this.bySecret.set(apiSecret, project);
    for (const grant of input.serviceAccounts ?? []) this.grant(id, grant);
    return project;
  }

  /** Gives a service account a role on a project, creating the account when it is new. */
  grant(projectId: string, grant: ServiceAccountGrant): ServiceAccount {
    let account = this.accounts.get(grant.username);
    if (!account) {
      account = { username: grant.username, secret: grant.secret, roles: new Map(), expiresAtMs: grant.expiresAtMs ?? null };
      this.accounts.set(grant.username, account);
    } else {
      account.secret = grant.secret;
      if (grant.expiresAtMs !== undefined) account.expiresAtMs = grant.expiresAtMs;
    }
    account.roles.set(projectId, grant.role);
    return account;
  }

  project(id: string): Project | undefined {
    return this.projects.get(id);
  }

  projectByToken(token: string): Project | undefined {
    return this.byToken.get(token);
  }

  projectBySecret(secret: string): Project | undefined {
    return this.bySecret.get(secret);
  }

  serviceAccount(username: string): ServiceAccount | undefined {
    return this.accounts.get(username);
  }

  list(): { projects: Project[]; serviceAccounts: ServiceAccount[] } {
    return { projects: [...this.projects.values()], serviceAccounts: [...this.accounts.values()] };
  }

  clear(): void {
    this.projects.clear();
    this.byToken.clear();
    this.bySecret.clear();
    this.accounts.clear();
  }

  private freshId(): string {
    while (this.projects.has(String(this.nextId))) this.nextId += 1;
    return String(this.nextId++);
  }
}

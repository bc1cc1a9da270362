// Runtime configuration, read once from the environment.
export const config = {
  port: Number(process.env.PORT ?? 3000),
  host: process.env.HOST ?? '0.0.0.0',
  jwtSecret: process.env.DEMO_JWT_SECRET ?? 'demo-secret-not-real',
  jwtIssuer: 'demo-auth',
  chatAudience: 'demo-chat',
  chatHistoryLimit: 50,
  maxBodyBytes: 1024 * 1024,
};

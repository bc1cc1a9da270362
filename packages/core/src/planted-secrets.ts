/**
 * Credentials of every kind the redactor must catch, each inside a line of the kind test output and
 * server logs print. Shared by the redactor's unit test and the leak-scan attack test.
 */

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLXZhbHVl';
const PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n-----END RSA PRIVATE KEY-----';

/** [planted secret, text it appears in]: every kind the redactor must catch. */
export const PLANTED_SECRETS: readonly [string, string][] = [
  [JWT, `jwt ${JWT} end`],
  ['Zm9vOmJhcmJhemJhcg', 'Authorization: Basic Zm9vOmJhcmJhemJhcg'],
  ['tok3n-abcdefgh1234', 'authorization=Bearer tok3n-abcdefgh1234'],
  ['c2Vzc2lvbi1pZD1hYmMxMjM', 'Cookie: session=c2Vzc2lvbi1pZD1hYmMxMjM; theme=dark'],
  ['sid=9f8e7d6c5b4a', 'set-cookie: sid=9f8e7d6c5b4a; HttpOnly'],
  ['T0001/B0002/XXXXXXXXXXXXXXXX', 'posting to https://hooks.slack.com/services/T0001/B0002/XXXXXXXXXXXXXXXX now'],
  ['1234567890/abcdefGHIJKL', 'https://discord.com/api/webhooks/1234567890/abcdefGHIJKL failed'],
  ['IncomingWebhook/abc123def456', 'teams https://contoso.webhook.office.com/webhookb2/x@y/IncomingWebhook/abc123def456/z'],
  ['ghp_0123456789abcdefghijABCDEFGHIJ', 'key ghp_0123456789abcdefghijABCDEFGHIJ'],
  ['github_pat_11ABCDEFG0123456789_abcdefghijklmnop', 'pat github_pat_11ABCDEFG0123456789_abcdefghijklmnop'],
  ['gho_abcdefghijklmnopqrstuvwxyz0123', 'oauth gho_abcdefghijklmnopqrstuvwxyz0123'],
  ['ghs_abcdefghijklmnopqrstuvwxyz0123', 'app ghs_abcdefghijklmnopqrstuvwxyz0123,'],
  ['ghu_abcdefghijklmnopqrstuvwxyz0123', '(ghu_abcdefghijklmnopqrstuvwxyz0123)'],
  ['glpat-abcdefghij0123456789', 'gitlab glpat-abcdefghij0123456789'],
  ['sk-proj-abcdefghijklmnopqrstuvwx0123', 'openai sk-proj-abcdefghijklmnopqrstuvwx0123'],
  ['sk-ant-api03-abcdefghijklmnopqrstuvwx', 'anthropic sk-ant-api03-abcdefghijklmnopqrstuvwx'],
  ['AIzaSyA1234567890abcdefghijklmnopqrstu', 'google AIzaSyA1234567890abcdefghijklmnopqrstu'],
  ['MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun', `key:\n${PEM}\nafter`],
  [
    'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC',
    '{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\n-----END PRIVATE KEY-----\\n"}',
  ],
  ['pk-in-json-0123456789', '{"private_key": "pk-in-json-0123456789"}'],
  ['pk-in-entities-0123456789', 'message=&quot;{&quot;private_key&quot;: &quot;pk-in-entities-0123456789&quot;}&quot;'],
  [
    'pk-in-both-0123456789',
    'x {\\&quot;client_secret\\&quot;: \\&quot;pk-in-both-0123456789\\&quot;} &amp;quot;token&amp;quot;: &amp;quot;pk-in-both-0123456789&amp;quot;',
  ],
  ['pk-in-escaped-0123456789', '{"message":"{\\"client_secret\\": \\"pk-in-escaped-0123456789\\"}"}'],
  ['AKIAABCDEFGHIJKLMNOP', 'id AKIAABCDEFGHIJKLMNOP'],
  ['wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'],
  ['r3d1sPassw0rd', 'connect redis://:r3d1sPassw0rd@10.0.0.5:6379/0'],
  ['hunter2hunter2', 'https://bob:hunter2hunter2@db.example.com/x'],
  ['p4ssw0rd-value', 'login password=p4ssw0rd-value ok'],
  ['s3cr3t-value', 'client_secret=s3cr3t-value&x=1'],
  ['qs-token-123', 'GET /api/x?token=qs-token-123&page=2'],
  ['key-abc-123456', 'api_key: key-abc-123456'],
  ['xoxb-1234567890-abcdefghij', 'slack xoxb-1234567890-abcdefghij'],
];

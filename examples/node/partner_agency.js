// A partner agency's system talking to fallwerk, in Node.js with @grpc/grpc-js and
// @grpc/proto-loader (the .proto files are loaded at start; no generated code).
//
// The same flow as examples/python/partner_agency.py: follow the referral change stream until
// a new referral arrives, accept it, report that the client started, complete it, update the
// offer's capacity, and read the error model (google.rpc.BadRequest field violations,
// google.rpc.ErrorInfo reasons from the `grpc-status-details-bin` trailer). Safe calls are
// retried on UNAVAILABLE and DEADLINE_EXCEEDED with backoff and jitter inside the overall
// deadline. Each step prints one JSON line; exit code 0 when every step went as expected.
//
//   node partner_agency.js --addr 127.0.0.1:50053 --token-file partner.jwt

'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const here = __dirname;
const loaderOptions = {
  keepCase: true, // field names as in the .proto (referral_id, not referralId)
  enums: String, // enum values by name; an unknown number stays a number
  longs: Number,
  defaults: true,
  oneofs: true,
  includeDirs: [path.join(here, '..', '..', 'proto'), here],
};

function args() {
  const options = { timeout: 30 };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    options[argv[i].replace(/^--/, '').replace(/-/g, '_')] = argv[i + 1];
  }
  if (!options.addr || !options.token_file) {
    fail('usage: node partner_agency.js --addr HOST:PORT --token-file FILE [--timeout SECONDS]');
  }
  return options;
}

function fail(message) {
  process.stderr.write(`partner_agency.js: ${message}\n`);
  process.exit(1);
}

function say(step, facts) {
  process.stdout.write(`${JSON.stringify({ step, ...facts })}\n`);
}

// google.rpc types to read the rich error model with (protobufjs, which proto-loader uses too;
// field names as in the .proto).
const protobuf = require('protobufjs');

const rpcRoot = new protobuf.Root();
// Well-known types (google/protobuf/any.proto) come bundled with protobufjs.
rpcRoot.resolvePath = (origin, target) => path.join(here, target);
rpcRoot.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });

// The code, the field violations of a BadRequest and the ErrorInfo of a failed call.
function details(error) {
  const found = { code: grpc.status[error.code], message: error.details, fields: [], reason: null };
  const encoded = error.metadata && error.metadata.get('grpc-status-details-bin')[0];
  if (!encoded) return found;
  const Status = rpcRoot.lookupType('google.rpc.Status');
  const BadRequest = rpcRoot.lookupType('google.rpc.BadRequest');
  const ErrorInfo = rpcRoot.lookupType('google.rpc.ErrorInfo');
  for (const detail of Status.decode(encoded).details) {
    if (detail.type_url.endsWith('/google.rpc.BadRequest')) {
      found.fields.push(...BadRequest.decode(detail.value).field_violations.map((v) => v.field));
    } else if (detail.type_url.endsWith('/google.rpc.ErrorInfo')) {
      const info = ErrorInfo.decode(detail.value);
      found.reason = info.reason;
      found.domain = info.domain;
      found.metadata = info.metadata;
    }
  }
  return found;
}

// One unary call inside the overall deadline; retried with backoff and jitter on UNAVAILABLE
// and DEADLINE_EXCEEDED when it is safe to repeat.
async function call(client, method, request, metadata, deadline, safeToRetry) {
  let delay = 50;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new Error('the overall deadline passed');
    try {
      return await new Promise((resolve, reject) => {
        client[method](request, metadata, { deadline: Date.now() + Math.min(remaining, 5000) },
          (error, answer) => (error ? reject(error) : resolve(answer)));
      });
    } catch (error) {
      const retry = safeToRetry
        && [grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED].includes(error.code);
      if (!retry || Date.now() + delay >= deadline) throw error;
      await new Promise((r) => { setTimeout(r, delay * (0.5 + Math.random())); });
      delay = Math.min(delay * 2, 1000);
    }
  }
}

// The stream from the start of this partner's history, until a new (SENT) referral arrives.
function firstNewReferral(agency, metadata, deadline) {
  return new Promise((resolve, reject) => {
    let position = 0;
    const stream = agency.StreamMyReferralChanges({ after_position: position }, metadata,
      { deadline });
    stream.on('data', (item) => {
      if (item.change) {
        position = item.change.position;
        if (item.change.state === 'REFERRAL_STATE_SENT') {
          stream.cancel();
          resolve({ referral: item.change.referral, position });
        }
      } else {
        position = item.heartbeat_position;
      }
    });
    stream.on('error', (error) => {
      if (error.code !== grpc.status.CANCELLED) reject(error);
    });
    stream.on('end', () => reject(new Error('the stream ended without a new referral')));
  });
}

async function main() {
  const options = args();
  const deadline = Date.now() + Number(options.timeout) * 1000;
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${fs.readFileSync(options.token_file, 'utf8').trim()}`);
  const partner = grpc.loadPackageDefinition(
    protoLoader.loadSync('fallwerk/partner/v1/partner.proto', loaderOptions),
  ).fallwerk.partner.v1;
  // Plaintext for the local run; a real system uses grpc.credentials.createSsl with the
  // office's CA and, with mutual TLS, its client certificate (docs/integrating.md).
  const agency = new partner.PartnerAgencyService(options.addr, grpc.credentials.createInsecure());

  const { referral, position } = await firstNewReferral(agency, metadata, deadline);
  say('offered', { referral_id: referral.id, position, categories: referral.data.categories });

  // Accept, report, complete: each carries a request_id, so a retry cannot do it twice.
  const accepted = await call(agency, 'AcceptReferral',
    { referral_id: referral.id, request_id: crypto.randomUUID() }, metadata, deadline, true);
  say('accepted', { state: accepted.referral.state });
  const inTwoWeeks = new Date(Date.now() + 14 * 24 * 3600 * 1000);
  const reported = await call(agency, 'ReportProgress', {
    referral_id: referral.id,
    progress: 'PROGRESS_STARTED',
    next_contact: {
      year: inTwoWeeks.getUTCFullYear(), month: inTwoWeeks.getUTCMonth() + 1, day: inTwoWeeks.getUTCDate(),
    },
    request_id: crypto.randomUUID(),
  }, metadata, deadline, true);
  say('reported', { state: reported.referral.state, progress: reported.referral.progress });
  const completed = await call(agency, 'CompleteReferral', {
    referral_id: referral.id, outcome: 'REFERRAL_OUTCOME_COMPLETED', request_id: crypto.randomUUID(),
  }, metadata, deadline, true);
  say('completed', { state: completed.referral.state });

  // The offer's capacity: a set without a request_id, so not retried.
  const capacity = await call(agency, 'UpdateOfferCapacity',
    { offer_id: referral.offer_id, places: 12 }, metadata, deadline, false);
  say('capacity', { offer_id: capacity.offer.id, places: capacity.offer.places });

  // The error model. A bad request (no UUIDs, no progress) names each bad field ...
  try {
    await call(agency, 'ReportProgress', { referral_id: 'keine-uuid', request_id: 'auch-keine' },
      metadata, deadline, false);
    fail('a bad request was accepted');
  } catch (error) {
    say('bad_request', details(error));
  }
  // ... and a call in the wrong state names its reason: a completed referral is done.
  try {
    await call(agency, 'AcceptReferral', { referral_id: referral.id }, metadata, deadline, false);
    fail('a completed referral was accepted again');
  } catch (error) {
    say('wrong_state', details(error));
  }
  agency.close();
}

main().catch((error) => fail(error.stack || String(error)));

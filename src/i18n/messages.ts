/**
 * The message catalog: every word a person sees for an error or notice, keyed by a stable dotted
 * code. Code never carries user-facing text inline; it throws or returns a code and the views look
 * the words up here (i18n-ready: a second locale is a second object of the same shape).
 *
 * Placeholders `{name}` are filled by {@link t}.
 */
export const en = {
  // generic
  'form.required': 'This field is required.',
  'form.too_long': 'This value is too long.',
  'form.invalid_characters': 'This value contains characters that are not allowed.',
  'form.csrf': 'Your session for this page expired or the form was submitted twice. Please try again.',
  'http.not_found': 'The page you asked for does not exist.',
  'http.rate_limited': 'Too many attempts from your network. Please try again in {minutes} minute(s).',
  'http.server_error': 'Something went wrong on our side. Please try again.',
  'http.bad_request': 'The request could not be understood.',
  'http.link.my_account': 'Go to My Account',
  'http.temporarily_unavailable': 'The service is temporarily unavailable. Please try again in a few minutes.',
  'http.busy': 'Many people are signing in right now. Please try again in a few seconds.',
  'http.insecure_transport': 'This service is not configured correctly, so sign-in cannot work: {problem}. Please tell the administrator.',
  'interaction.expired': 'Your sign-in session expired. Please start again from the portal.',

  // delegates (issue 14)
  'working_for.intro': 'Choose who you are working for in this session.',
  'working_for.choose': 'Choose who you are working for.',
  'working_for.logout': 'Not you, or want to use another login?',
  'working_for.logout_none': 'To log in with another username, log out first.',
  'working_for.unknown_producer': 'The application asked to work for producer number {producer}, which is not a producer you may work for. Choose who you are working for.',
  'working_for.none': 'You are not a delegate of any active producer at the moment, so there is no one to work for. Ask the producer to invite you again.',
  'delegates.not_producer': 'Only a producer can view and add delegates. You are signed in with a delegate account.',
  'delegates.signed_out': 'Please log in to the portal first, then open View/Add My Delegates again.',
  'delegates.added': 'We sent the invitation. Its link is valid for {days} days and can be used once.',
  'delegates.resent_short': 'We sent a new invitation; the earlier link no longer works.',
  'delegates.removed_short': 'The delegate was removed: their access for you ended.',
  'delegates.resend_limited_short': 'An invitation was sent a moment ago (or too many this hour). Please try again later.',
  'delegates.already_invited': 'This person already has an invitation or is already your delegate.',
  'delegates.own_email': 'You cannot invite yourself as your delegate.',
  'delegates.permissions_required': 'Choose at least one permission.',
  'delegates.permissions_unknown': 'A permission that was sent is not one of Quote & Enroll, Commissions & Reporting or View My Hierarchy. Choose only from the list.',
  'delegates.not_found': 'This delegate was not found among your delegates. Nothing was changed.',
  'delegates.not_invited': 'This invitation was already accepted or the delegate removed, so there is no invitation to send again.',
  'delegates.already_removed': 'This delegate was already removed.',
  'delegates.remove_unconfirmed': 'The removal was not confirmed, so nothing was changed. To remove a delegate, use Remove in their row.',
  'delegates.email.format': 'Enter a valid email address.',
  'delegates.name.required': 'Enter a name.',
  'invite.invalid': 'This invitation link is not valid: it was used already, replaced by a newer one, or it expired. Ask the producer to send a new invitation.',
  'invite.accept_prompt': '{producer} invited you to work in {product} on their behalf as a delegate.',
  'invite.accepted': 'You are now a delegate of {producer}. When you log in, choose who you are working for.',
  'invite.registered': 'Your account is ready and you are now a delegate of {producer}. Log in with your new username and password.',
  'invite.already_delegate': 'You are already a delegate of this producer.',
  'invite.open_link_again': 'Open the invitation link from your email again to continue.',
  'terms.rejected_invitation': 'You rejected the Terms of Use, so the invitation was not accepted. You can open the link again while it is valid.',
  'invite.self': 'This invitation was sent by you; it cannot be accepted by your own account.',

  // terms (guide slide 3)
  'terms.rejected': 'You rejected the Terms of Use, so registration was cancelled.',
  'terms.must_accept': 'You must accept the Terms of Use to continue.',

  // registration step 1 (guide slide 3)
  'register.producer_number.format': 'Producer Number should be up to 9 digits.',
  'register.npn.format': 'National Producer Number should be 1 to 10 digits.',
  'register.zip.format': 'Zip Code should be 5 digits (or ZIP+4, like 60601-1234).',
  'register.no_match':
    'We could not match this information to a producer record. Check the Producer Number, National Producer Number and Zip Code, and try again.',
  'register.inactive': 'This producer record is not active, so it cannot be registered. Please contact the help desk at {helpDeskPhone}.',
  'register.already_registered':
    'This producer already has an account. Use Forgot Username or Forgot Password to get back in.',
  'register.flow_expired': 'Your registration session expired. Please start again.',

  // registration step 2 (guide slide 4)
  'username.required': 'Enter a username.',
  'username.too_short': 'Username must be at least 7 characters.',
  'username.too_long': 'Username must be at most 40 characters.',
  'username.characters': 'Username may contain only the letters A-Z, a-z and the digits 0-9 (no special characters, periods or dots).',
  'username.taken': 'This username is not available. Please choose another.',
  'password.required': 'Enter a password.',
  'password.length': 'Password must have 8-40 characters.',
  'password.uppercase': 'Password must have an uppercase letter.',
  'password.lowercase': 'Password must have a lowercase letter.',
  'password.number': 'Password must have a number.',
  'password.special': 'Password must have a special character ~!@#$%^&*(){}.',
  'password.sequential': 'Password cannot have more than two sequential characters, like 123 or ABC.',
  'password.repeated': 'Password cannot have more than two repeated characters, like 111 or AAA.',
  'password.month': 'Password cannot have abbreviations for months, like Jan, Feb, or Mar.',
  'password.day': 'Password cannot have abbreviations for days, like Mon, Tue, or Wed.',
  'password.restricted_term': 'Password cannot have restricted terms: Appl, Asdf, Basic, Cadam, Demo, Focus, Game, Net, New, Pas, Ros, Sign, Sys, Tso, Valid, Vtam, Log.',
  'password.forbidden_special': 'Password cannot have the special characters = _ - +.',
  'password.contains_username': 'Password cannot contain your username.',
  'password.invalid_characters': 'Password may contain only letters, digits and the special characters ~!@#$%^&*(){}.',

  // registration step 3 (guide slide 5)
  'verify_email.sent': 'We sent a link to {email}. Select "Confirm Your Email Address" in that email to finish registration.',
  'verify_email.resent': 'We sent a new link to {email}. Links sent earlier no longer work.',
  'verify_email.confirmed': 'Your email address is confirmed. You can now log in.',
  'verify_email.invalid': 'This confirmation link is not valid. It may have expired (links are valid for {emailLinkDuration}) or been used already.',
  'verify_email.confirm_prompt': 'Select "Confirm Your Email Address" to confirm your email address and finish registration.',
  'verify_email.resend_limited': 'Too many emails were sent. Please try again in {minutes} minute(s).',

  // sign-in (guide slides 6-7)
  'login.invalid_credentials': 'The username or password is incorrect.',
  'login.locked':
    'This account is locked. {lockoutThreshold} failed attempts lock an account for {lockoutDuration}. Use Forgot Username or Forgot Password to unlock it now.',
  'login.email_not_verified':
    'Your email address is not confirmed yet. Select "Confirm Your Email Address" in the email we sent you, or resend it below.',
  'login.disabled': 'This account is disabled. Please contact the help desk at {helpDeskPhone}.',
  'login.lock_notice': '{lockoutThreshold} failed attempts lock an account for {lockoutDuration}. Forgot Username or Forgot Password unlock it.',
  'login.password_reset_done': 'Your password was changed. Log in with your new password.',
  'login.unlocked': 'Your account is unlocked. You can log in now.',

  // Verify your Account: second factor (guide slides 8-11)
  'mfa.choose': 'Choose how to verify your account.',
  'mfa.code_sent_email': 'We sent a verification code to {destination}. It is valid for {minutes} minutes.',
  'mfa.code_sent_sms': 'We sent a verification code in a text message to {destination}. It is valid for {minutes} minutes.',
  'mfa.code_wrong': 'That code is not correct. Tries left: {triesLeft}.',
  'mfa.code_exhausted': 'Too many wrong codes. For your security this sign-in was stopped. Please start again.',
  'mfa.code_expired': 'This code expired or was replaced by a newer one. Send a new code.',
  'mfa.code_format': 'Enter the 8-character code from the message.',
  'mfa.resend_too_soon': 'Please wait {seconds} seconds before asking for another code.',
  'mfa.hourly_limit': 'Too many codes were sent. Please try again in {minutes} minute(s).',
  'mfa.sms_failed': 'We could not send the text message; try email.',
  'mfa.factor_unavailable': 'This verification option is not available for your account.',
  'mfa.account_unusable': 'This account can no longer sign in. Please start again or contact the help desk.',
  'mfa.remember_tooltip':
    'Check this box if you do not want to verify your account each time you log in from this device. Do not use it on a shared or public computer. You will be asked again after {rememberDuration}.',
  'mfa.keystroke_failed': 'Your typing pattern did not match. Please verify by email or text message.',
  'mfa.keystroke_needs_js': 'The keyboard pattern needs JavaScript. Please choose email or text message.',
  'mfa.keystroke_retype': 'Type it again as it appears.',
  'mfa.keystroke_type': 'Type the highlighted sentence three (3) times as it appears.',
  'mfa.keystroke_replay': 'This typing was already used. Please type the sentence again, or verify by email or text message.',
  'typing.needs_js': 'The typing pattern needs JavaScript. Select Skip for now to continue.',
  'typing.intro': 'To protect your account, type the highlighted sentence three (3) times as it appears. We keep only the rhythm of your typing, never what you type.',
  'typing.unsupported': 'The typing pattern cannot be recorded with this keyboard (for example a phone keyboard). Select Skip for now.',
  'mfa.stepup_required': 'This application asks for a verification code. Please verify by email or text message.',

  // account recovery: Forgot Username, Forgot Password, unlock (guide slides 12-17)
  'recovery.email_invalid': 'Please enter a valid email address.',
  'recovery.username_sent':
    'An email has been sent to {email} if an account exists for this address. It lists the username of every account registered with it.',
  'recovery.username_resent': 'We sent the email to {email} again (if an account exists for this address).',
  'recovery.resend_too_soon': 'Please wait {seconds} seconds before asking for another message.',
  'recovery.hourly_limit': 'Too many messages were sent. Please try again in {minutes} minute(s).',
  'recovery.flow_expired': 'This page expired (it is valid for {minutes} minutes). Please start again.',
  'recovery.start_over': 'Please start again from the first step.',
  'recovery.channel_required': 'Choose how to receive your verification code.',
  'recovery.code_sent_email': 'We sent a verification code to {destination}. It is valid for {minutes} minutes.',
  'recovery.code_sent_sms': 'We sent a verification code in a text message to {destination}. It is valid for {minutes} minutes.',
  'recovery.code_resent': 'We sent a new code to {destination}. Codes sent earlier no longer work.',
  'recovery.code_wrong': 'That code is not correct. Tries left: {triesLeft}.',
  'recovery.code_exhausted': 'Too many wrong codes. For your security, please start again.',
  'recovery.code_expired': 'This code expired or was replaced by a newer one. Select "Resend Code" to get a new one.',
  'recovery.code_format': 'Enter the 8-character code from the message.',
  'recovery.sms_failed': 'We could not send the text message; try email.',
  'recovery.password_reused': 'Password cannot be any of your last 10 passwords.',
  'recovery.unlocked': 'Your account is unlocked. You can log in now.',
  'recovery.unlock_confirm': 'Select "Unlock Account" to unlock your account now.',
  'recovery.unlock_invalid':
    'This unlock link is not valid: it expired (links are valid for {minutes} minutes) or was used already. Try to log in; if your account is still locked, select Forgot Username or Forgot Password again.',

  // My Account pages (issue 14 item 6; src/account)
  'account.signin_incomplete': 'Sign-in was not completed, so your account pages cannot be shown. Please start again from the portal.',
  'account.device_unknown': 'That device is not one of your remembered devices (it may have been removed already).',
  'account.device_removed': 'The device was removed. It will be asked to verify your account at its next sign-in.',
  'account.devices_removed': 'All remembered devices were removed. Each will be asked to verify your account at its next sign-in.',
  'account.sessions_ended': 'You were signed out of every other session. This browser is still signed in.',
  'account.current_password_wrong': 'Your current password is not correct.',
  'account.password_changed': 'Your password was changed. You were signed out of every other session, and remembered devices will be asked to verify again. We sent you an email.',
  'account.password_changed_meanwhile': 'Your password was changed meanwhile (in another window?). Please check and try again.',
  'account.typing_pattern_reset': 'Your typing pattern was reset. Your next sign-in will record it again. We sent you an email.',
  'account.typing_pattern_none': 'There is no typing pattern to reset.',
  // Mobile number (src/account/mobile.ts; issue 14 item 3)
  'account.mobile_invalid': 'Please enter a valid mobile phone number, e.g. (312) 555-0199 or +1 312 555 0199.',
  'account.mobile_not_sent': 'We could not send a text message to that number. Please check it and try again.',
  'account.mobile_wait': 'A code was sent a moment ago. Please wait {seconds} seconds before asking for another.',
  'account.mobile_hourly': 'Too many codes were sent in the last hour. Please try again in {seconds} seconds.',
  'account.mobile_code_exhausted': 'That code was entered wrongly too many times. Please send a new code.',
  'account.mobile_code_expired': 'That code is no longer valid (it expired or a newer one was sent). Please send a new code.',
  'account.mobile_start_again': 'Please enter your mobile number again.',
  'account.mobile_confirmed': 'Your mobile number was confirmed. Verify your Account can now send codes to it by text. We sent you an email.',
  'account.mobile_removed': 'Your mobile number was removed. We sent you an email.',
  'account.mobile_none': 'There is no mobile number of your own to remove.',
  'account.mobile_from_record': 'Your mobile number comes from your producer record and cannot be changed here.',
  // Recent activity (src/account/recent-activity.ts): what happened, in plain words
  'activity.login.success': 'Signed in',
  'activity.login.failure': 'Wrong username or password at sign-in',
  'activity.login.locked': 'Account locked after too many wrong attempts',
  'activity.login.rejected_locked': 'Sign-in refused: the account was locked',
  'activity.login.disabled': 'Sign-in refused: the account is disabled',
  'activity.login.email_not_verified': 'Sign-in refused: email address not confirmed yet',
  'activity.logout': 'Signed out',
  'activity.mfa.passed': 'Account verified with a code or typing pattern',
  'activity.mfa.failed': 'Wrong verification code or typing pattern',
  'activity.mfa.exhausted': 'Too many wrong verification attempts',
  'activity.device.remembered': 'Device remembered',
  'activity.device.revoked': 'Remembered device removed',
  'activity.device.revoked_all': 'All remembered devices removed',
  'activity.keystroke.enrolled': 'Typing pattern set up',
  'activity.keystroke.reset': 'Typing pattern reset',
  'activity.registration.account_created': 'Account created',
  'activity.registration.email_verified': 'Email address confirmed',
  'activity.terms.accepted': 'Terms of Use accepted',
  'activity.recovery.username_requested': 'Forgot Username requested',
  'activity.recovery.password_reset_started': 'Forgot Password started',
  'activity.recovery.password_changed': 'Password reset with Forgot Password',
  'activity.recovery.account_unlocked': 'Account unlocked',
  'activity.account.password_changed': 'Password changed on My Account',
  'activity.account.password_change_failed': 'Wrong current password on Change Password',
  'activity.account.sessions_ended': 'Signed out of the other sessions',
  'activity.account.mobile_confirmed': 'Mobile number for text codes added',
  'activity.account.mobile_removed': 'Mobile number for text codes removed',
  'activity.operator.account_unlocked': 'Account unlocked by the Service Desk',
  'activity.operator.account_disabled': 'Account disabled by the Service Desk',
  'activity.operator.account_enabled': 'Account enabled by the Service Desk',
  'activity.operator.signed_out': 'Signed out everywhere by the Service Desk',
  // delegate events (issue 14), as the producer ({name}: the delegate) and as the delegate ({name}: the producer)
  'activity.delegate.invited.producer': 'You invited {name} to be your delegate',
  'activity.delegate.invited.delegate': '{name} invited you to be their delegate',
  'activity.delegate.invitation_resent.producer': 'You sent {name} a new delegate invitation',
  'activity.delegate.invitation_resent.delegate': '{name} sent you a new delegate invitation',
  'activity.delegate.invitation_accepted.producer': '{name} accepted your invitation and is now your delegate',
  'activity.delegate.invitation_accepted.delegate': 'You accepted the invitation of {name} and are now their delegate',
  'activity.delegate.account_created.producer': '{name} created a delegate account',
  'activity.delegate.account_created.delegate': 'Delegate account created (invited by {name})',
  'activity.delegate.working_for.producer': 'Your delegate {name} signed in working for you',
  'activity.delegate.working_for.delegate': 'Signed in working for {name}, as their delegate',
  'activity.delegate.working_for_self': 'Signed in working for yourself',
  'activity.delegate.removed.producer': 'You removed {name} as your delegate',
  'activity.delegate.removed.delegate': '{name} removed you as their delegate',
  'activity.delegate.deactivated.producer': 'Your delegate {name} can no longer work for you: your producer record is inactive',
  'activity.delegate.deactivated.delegate': 'You can no longer work for {name}: their producer record is inactive',
} as const;

export type MessageCode = keyof typeof en;

/**
 * Looks up a message by code and fills `{placeholders}`.
 * @param code a key of the catalog; an unknown code is returned as-is (never throws).
 * @param params values for placeholders, e.g. `{ minutes: 30 }`.
 * @returns the text a person sees.
 */
export function t(code: string, params: Record<string, string | number> = {}): string {
  const text = (en as Record<string, string>)[code] ?? code;
  return text.replace(/\{(\w+)\}/g, (_, k: string) => (k in params ? String(params[k]) : `{${k}}`));
}

/**
 * A duration for people: whole days, hours or minutes when it divides evenly, else minutes and
 * seconds (e.g. 1800 → "30 minutes", 604800 → "7 days", 90 → "90 seconds", 3600 → "1 hour").
 * @param seconds a non-negative whole number of seconds.
 */
export function formatDuration(seconds: number): string {
  const unit = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (seconds >= 86400 && seconds % 86400 === 0) return unit(seconds / 86400, 'day');
  if (seconds >= 3600 && seconds % 3600 === 0) return unit(seconds / 3600, 'hour');
  if (seconds >= 60 && seconds % 60 === 0) return unit(seconds / 60, 'minute');
  return unit(seconds, 'second');
}

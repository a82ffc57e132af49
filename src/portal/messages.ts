/**
 * Words the portal shows on its message pages, keyed by stable dotted codes (the portal's own small
 * catalog: it is a separate application from the IdP and must not depend on the IdP's modules).
 */
export const portalMessages = {
  'portal.signin_incomplete.title': 'Sign-in did not complete',
  'portal.signin_incomplete.idp_error': 'The sign-in service did not complete your sign-in.',
  'portal.signin_incomplete.bad_callback':
    'This sign-in link is not valid any more (it may have been used already, or it expired). Please start again.',
  'portal.idp_unavailable.title': 'Sign-in is unavailable',
  'portal.idp_unavailable.message': 'The sign-in service could not be reached. Please try again in a few minutes.',
  'portal.logged_out.title': 'Logged out',
  'portal.logged_out.message': 'You have been logged out.',
  'portal.csrf.title': 'Please try again',
  'portal.csrf.message': 'Your session for this page expired or the form was submitted twice. Please try again.',
  'portal.unavailable.title': 'Temporarily unavailable',
  'portal.unavailable.message': 'This application cannot be used just now. Please try again in a few minutes.',
  'portal.not_found.title': 'Page not found',
  'portal.not_found.message': 'The page you asked for does not exist.',
  'portal.server_error.title': 'Something went wrong',
  'portal.server_error.message': 'Something went wrong on our side. Please try again.',
  'portal.permission_missing.title': 'Not one of your permissions',
  'portal.permission_missing.message': 'You are signed in as a delegate, and the producer you work for has not given you this permission. Ask them to add it if you need it.',
  'portal.delegates_for_producers.title': 'View/Add My Delegates',
  'portal.delegates_for_producers.message': 'Only producers can view and add their delegates, for themselves. In this session you work as a delegate: to manage your own delegates, log out and sign in working for yourself.',
  'portal.link.try_again': 'Try again',
  'portal.link.log_in_again': 'Log in again',
  'portal.link.home': 'Go to Home',
  'portal.rate_limited.title': 'Please wait',
  'portal.rate_limited.message': 'You have sent several reports in a short time. Please try again later, or call the Help Desk.',
  'report.required': 'This field is required.',
  'report.too_long': 'This text is too long.',
  'report.invalid_characters': 'This text contains characters that are not allowed.',
  'report.choose_from_list': 'Choose a value from the list.',
  'report.date_format': 'Enter the date and time as shown (for example 2026-11-30 09:15).',
  'report.date_future': 'The date and time cannot be in the future.',
  'report.screenshot_too_large': 'The screenshot is larger than 5 MB. Please attach a smaller image.',
  'report.screenshot_type': 'The screenshot must be a PNG or JPEG image.',
  'report.form_error': 'Please correct the fields marked below.',
  'report.send_failed': 'Your report could not be sent just now. Please try again in a few minutes.',
} as const;

export type PortalMessageCode = keyof typeof portalMessages;

/** Looks a message up by code. */
export function pm(code: PortalMessageCode): string {
  return portalMessages[code];
}

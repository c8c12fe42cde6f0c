"""`digest push`: an issue handed to the newsletter's mailing service as a draft campaign.

One module per service (listmonk, buttondown, mailchimp, brevo) builds that service's requests;
http.py sends them (timeouts, retries, one-line errors); run.py is the command: the pre-send gate,
the email as `build` makes it, then one draft created or updated.
"""

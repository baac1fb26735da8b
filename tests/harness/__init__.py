"""How tests serve the app: in this process (``served_app``) or as a child process
(``server_process``); and the clients both use (``clients``)."""

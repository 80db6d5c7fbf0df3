from django.shortcuts import render

from oauthbff.sessions import session_roles


def home(request):
    """Greets the signed-in user with the roles the provider granted this session."""
    return render(request, "home.html", {"roles": session_roles(request)})

from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """Every new account gets a buyer profile at once, so pages never meet a user without one."""

    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            from .services import buyer_profile_get_or_create

            buyer_profile_get_or_create(user=user)
        return user

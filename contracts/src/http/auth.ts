import { z } from 'zod';
import { Uuid } from './common';

const name = (what: string) =>
  z
    .string({ error: 'Campo requerido.' })
    .trim()
    .min(1, `${what} es obligatorio.`)
    .max(100, `${what} admite como máximo 100 caracteres.`);

export const SignupRequest = z
  .object({
    first_name: name('El nombre'),
    last_name: name('El apellido'),
    email: z
      .string({ error: 'Campo requerido.' })
      .trim()
      .toLowerCase()
      .pipe(z.email('Correo electrónico inválido.').max(254, 'Correo electrónico demasiado largo.')),
    password1: z
      .string({ error: 'Campo requerido.' })
      .min(8, 'La contraseña debe tener al menos 8 caracteres.')
      .max(128, 'La contraseña admite como máximo 128 caracteres.'),
    password2: z.string({ error: 'Campo requerido.' }).min(1, 'Confirma la contraseña.'),
    city: name('La ciudad'),
    country: name('El país'),
  })
  .meta({
    id: 'SignupRequest',
    example: {
      first_name: 'Ana',
      last_name: 'Pérez',
      email: 'ana@example.com',
      password1: 'Canasta2025!',
      password2: 'Canasta2025!',
      city: 'Bogotá',
      country: 'Colombia',
    },
  });
export type SignupRequest = z.infer<typeof SignupRequest>;

export const SignupResponse = z
  .object({ message: z.literal('Usuario creado exitosamente.'), user_id: Uuid })
  .meta({ id: 'SignupResponse' });
export type SignupResponse = z.infer<typeof SignupResponse>;

export const LoginRequest = z
  .object({
    email: z.string({ error: 'Campo requerido.' }).trim().toLowerCase().min(1, 'Campo requerido.').max(254),
    password: z.string({ error: 'Campo requerido.' }).min(1, 'Campo requerido.').max(128),
  })
  .meta({ id: 'LoginRequest', example: { email: 'ana@example.com', password: 'Canasta2025!' } });
export type LoginRequest = z.infer<typeof LoginRequest>;

export const LoginResponse = z
  .object({ access_token: z.string(), token_type: z.literal('Bearer'), expires_in: z.literal(3600) })
  .meta({ id: 'LoginResponse' });
export type LoginResponse = z.infer<typeof LoginResponse>;

export const Jwks = z
  .object({ keys: z.array(z.record(z.string(), z.unknown())) })
  .meta({ id: 'JWKS', description: 'Public keys that verify access tokens (RFC 7517).' });

export const Profile = z
  .object({
    user_id: Uuid,
    first_name: z.string(),
    last_name: z.string(),
    email: z.email(),
    city: z.string(),
    country: z.string(),
    registered_at: z.iso.datetime({ offset: true }),
  })
  .meta({ id: 'Profile', description: 'The signed-in player.' });
export type Profile = z.infer<typeof Profile>;
